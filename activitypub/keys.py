"""RSA key pairs for actors: generation and PEM (de)serialisation.

Public keys are published as SPKI PEM (``BEGIN PUBLIC KEY``): PeerTube and others reject PKCS#1.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from activitypub.errors import InvalidDocumentError

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey

RSA_KEY_BITS = 2048


@dataclass(frozen=True)
class KeyPairPem:
    private_pem: str
    public_pem: str


def generate_rsa_key_pair(bits: int = RSA_KEY_BITS) -> KeyPairPem:
    """A fresh RSA key pair as PEM text (PKCS#8 private, SPKI public). Takes ~50 ms: call off the loop."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return KeyPairPem(
        private_pem=private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii"),
        public_pem=public_key_pem(private.public_key()),
    )


def public_key_pem(key: PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


@lru_cache(maxsize=1024)
def load_private_key(pem: str) -> PrivateKey:
    """Parse one of our private keys. Cached per process: loading checks an RSA key's consistency, which
    costs as much as generating one (~50 ms), and several holders (the fetcher's signer, each key store)
    load the same keys."""
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise InvalidDocumentError("unsupported private key type")
    return key


def load_public_key(pem: str) -> PublicKey:
    """Parse a published public key: SPKI, or the legacy PKCS#1 ``BEGIN RSA PUBLIC KEY`` some peers send."""
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise InvalidDocumentError("public key is not valid PEM", detail=str(error)) from error
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise InvalidDocumentError("unsupported public key type")
    return key

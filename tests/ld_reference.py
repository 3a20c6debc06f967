"""A second, independent RsaSignature2017, written for the tests from Mastodon's published algorithm
(``app/lib/activitypub/linked_data_signature.rb``) with pyld and cryptography directly: it shares no code
with ``activitypub/ld_signatures.py``, only the context files (read here by their own loader).

options = {creator, created} under ``https://w3id.org/identity/v1``; hash(x) = hex SHA-256 of x's
URDNA2015 N-Quads; signed = RSA-SHA256 PKCS#1 v1.5 over hash(options) + hash(document without signature).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from pyld import jsonld

CONTEXTS = Path(__file__).resolve().parent.parent / "activitypub" / "contexts"
FILES = {
    "https://www.w3.org/ns/activitystreams": "activitystreams.jsonld",
    "https://w3id.org/security/v1": "security-v1.jsonld",
    "https://w3c-ccg.github.io/security-vocab/contexts/security-v1.jsonld": "security-v1.jsonld",
    "https://w3id.org/identity/v1": "identity-v1.jsonld",
}


def reference_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    if url not in FILES:
        raise jsonld.JsonLdError(f"no local copy of {url}", "jsonld.LoadDocumentError", code="loading document failed")
    document = json.loads((CONTEXTS / FILES[url]).read_text())
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url, "document": document}


def _hash(document: dict[str, Any]) -> str:
    quads = jsonld.normalize(
        document, {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": reference_loader}
    )
    return hashlib.sha256(quads.encode()).hexdigest()


def _to_be_signed(document: dict[str, Any], creator: str, created: str) -> bytes:
    options = {"@context": "https://w3id.org/identity/v1", "creator": creator, "created": created}
    return (_hash(options) + _hash({k: v for k, v in document.items() if k != "signature"})).encode()


def mastodon_sign(
    document: dict[str, Any], private_pem: str, key_id: str, created: str = "2024-12-06T10:02:12Z"
) -> dict[str, Any]:
    key = load_pem_private_key(private_pem.encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    value = key.sign(_to_be_signed(document, key_id, created), padding.PKCS1v15(), hashes.SHA256())
    signature = {
        "type": "RsaSignature2017",
        "creator": key_id,
        "created": created,
        "signatureValue": base64.b64encode(value).decode(),
    }
    return {**{k: v for k, v in document.items() if k != "signature"}, "signature": signature}


def mastodon_verify(document: dict[str, Any], public_pem: str) -> bool:
    key = load_pem_public_key(public_pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    signature = document["signature"]
    try:
        key.verify(
            base64.b64decode(signature["signatureValue"]),
            _to_be_signed(document, signature["creator"], signature["created"]),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except Exception:
        return False
    return True

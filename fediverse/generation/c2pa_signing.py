"""Optional C2PA manifests for generated images (extra ``[c2pa]``: ``c2pa-python``).

Each instance signs with its own ES256 chain: a self-signed CA and an end-entity certificate with the
``emailProtection`` EKU (accepted by c2pa-rs's default trust config). That
gives tamper evidence, not third-party trust. The caller stores the credentials in the data folder.
The manifest thumbnail is disabled (2 ms and +3 KiB per image instead of 53 ms and +136 KiB), and the prompt
stays out of the manifest: manifests travel with every download, the prompt is the author's to share.
The c2pa library itself loads on the first signature or reading (docs/decisions/0053).
"""

from __future__ import annotations

import datetime
import io
import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .base import GenerationError

_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}


class ProvenanceSigningError(GenerationError):
    """Signing or reading a C2PA manifest failed."""


@dataclass(frozen=True)
class SigningCredentials:
    chain_pem: bytes  # end-entity certificate first, then the CA
    key_pem: bytes  # PKCS#8 private key of the end entity
    ca_pem: bytes  # the instance's trust anchor, publishable

    @classmethod
    def from_pem(cls, chain_pem: bytes, key_pem: bytes) -> SigningCredentials:
        certificates = x509.load_pem_x509_certificates(chain_pem)
        ca_pem = certificates[-1].public_bytes(serialization.Encoding.PEM)
        return cls(chain_pem=chain_pem, key_pem=key_pem, ca_pem=ca_pem)


@dataclass(frozen=True)
class C2paClaim:
    title: str
    digital_source_type: str
    software_name: str
    software_version: str
    generator: str  # what made the pixels: backend and model


@dataclass(frozen=True)
class C2paReport:
    state: str  # "Valid", "Trusted" or "Invalid"
    manifest: dict[str, Any]

    @property
    def digital_source_types(self) -> list[str]:
        found = []
        active = self.manifest.get("active_manifest")
        manifest = self.manifest.get("manifests", {}).get(active, {})
        for assertion in manifest.get("assertions", []):
            if assertion.get("label", "").startswith("c2pa.actions"):
                for action in assertion.get("data", {}).get("actions", []):
                    if "digitalSourceType" in action:
                        found.append(action["digitalSourceType"])
        return found


def create_signing_credentials(instance_name: str, *, valid_days: int = 3650) -> SigningCredentials:
    """A fresh per-instance chain: self-signed CA (P-256) -> end-entity signing certificate (ES256)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{instance_name} C2PA root")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{instance_name} image signer"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, instance_name),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SigningCredentials(cert.public_bytes(serialization.Encoding.PEM) + ca_pem, key_pem, ca_pem)


def build_manifest(claim: C2paClaim) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": claim.software_name, "version": claim.software_version}],
        "title": claim.title,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": claim.digital_source_type,
                            "softwareAgent": {"name": claim.generator},
                        }
                    ]
                },
            }
        ],
    }


def sign_c2pa(data: bytes, mime: str, claim: C2paClaim, signer: SigningCredentials) -> bytes:
    """Return ``data`` with an embedded, signed C2PA manifest (no timestamp authority: fully offline)."""
    import c2pa

    try:
        info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, signer.chain_pem, signer.key_pem, None)
        context = c2pa.Context.from_dict(_SETTINGS)
        with (
            c2pa.Signer.from_info(info) as c2pa_signer,
            c2pa.Builder(build_manifest(claim), context=context) as builder,
        ):
            source, destination = io.BytesIO(data), io.BytesIO()
            builder.sign(c2pa_signer, mime, source, destination)
            return destination.getvalue()
    except c2pa.C2paError as error:
        raise ProvenanceSigningError("Could not sign the image's provenance.", detail=str(error)) from error


def read_c2pa(data: bytes, mime: str, *, trust_anchor_pem: bytes | None = None) -> C2paReport | None:
    """Validate and read an embedded manifest; None when the file carries none."""
    config: dict[str, Any] = {}
    if trust_anchor_pem:
        config = {"verify": {"verify_trust": True}, "trust": {"user_anchors": trust_anchor_pem.decode("ascii")}}
    import c2pa

    try:
        context = c2pa.Context.from_dict(config)
        with c2pa.Reader(mime, io.BytesIO(data), context=context) as reader:
            return C2paReport(state=str(reader.get_validation_state()), manifest=json.loads(reader.json()))
    except c2pa.C2paError as error:
        if "ManifestNotFound" in type(error).__name__ or "no JUMBF" in str(error):
            return None
        raise ProvenanceSigningError("Could not read the image's provenance.", detail=str(error)) from error


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )

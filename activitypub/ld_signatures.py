"""Linked Data signatures (``RsaSignature2017``) as Mastodon makes and checks them (decision 0058).

A signature inside the document lets a third server forward an activity it did not write: the receiver
checks it with the author's key, not the forwarder's. Mastodon's algorithm
(``app/lib/activitypub/linked_data_signature.rb``), which we follow exactly:

* the *options* are the signature's ``creator`` (a key id) and ``created`` under the
  ``https://w3id.org/identity/v1`` context;
* each of the options and the document without its ``signature`` is normalised with URDNA2015 into
  N-Quads and hashed with SHA-256 (lowercase hex);
* the two hex digests, options first, are signed with RSA PKCS#1 v1.5 over SHA-256; the signature is
  ``{type: RsaSignature2017, creator, created, signatureValue}`` (base64).

Normalising needs the JSON-LD contexts a document names. They come from ``activitypub/contexts`` only
(ActivityStreams, Security v1, Identity v1): nothing is ever fetched, and a document naming any other
remote context cannot be checked (``LinkedDataSignatureError``), so its receiver falls back to
fetching the object from its origin. Terms a context does not declare drop out of the normalised graph,
so they are not covered by the signature (as with Mastodon).

Normalising is CPU work (milliseconds, more for large documents): callers run ``sign_document`` and
``verify_document`` in a thread, never on the event loop. pyld is imported on first use (decision 0053).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from activitypub.errors import SignatureError
from activitypub.keys import PrivateKey, PublicKey
from activitypub.vocab import AS2_CONTEXT, SECURITY_CONTEXT, JsonObject

SIGNATURE_TYPE = "RsaSignature2017"
IDENTITY_CONTEXT = "https://w3id.org/identity/v1"
#: The contexts we hold a copy of, by the URLs documents name them with, and the file of each.
BUNDLED_CONTEXTS = {
    AS2_CONTEXT: "activitystreams.jsonld",
    AS2_CONTEXT + ".jsonld": "activitystreams.jsonld",
    SECURITY_CONTEXT: "security-v1.jsonld",
    "https://w3c-ccg.github.io/security-vocab/contexts/security-v1.jsonld": "security-v1.jsonld",
    IDENTITY_CONTEXT: "identity-v1.jsonld",
}


class LinkedDataSignatureError(SignatureError):
    """The document has no usable ``RsaSignature2017``, names a context we hold no copy of, or its signature
    does not verify."""


@cache
def bundled_context(url: str) -> JsonObject:
    """The bundled copy of the context document at ``url`` (``KeyError`` for any other URL)."""
    text = resources.files("activitypub").joinpath("contexts", BUNDLED_CONTEXTS[url]).read_text("utf-8")
    document: JsonObject = json.loads(text)
    return document


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """pyld's document loader: the bundled contexts, and nothing from the network."""
    from pyld import jsonld

    if url not in BUNDLED_CONTEXTS:
        raise jsonld.JsonLdError(
            f"no local copy of the context {url}", "jsonld.LoadDocumentError", code="loading remote context failed"
        )
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": bundled_context(url),
    }


def canonical_digest(document: JsonObject) -> str:
    """SHA-256 (hex) of the document's URDNA2015 N-Quads, as Mastodon's ``hash``; ``LinkedDataSignatureError``
    when it cannot be normalised (an unknown remote context, an invalid context)."""
    from pyld import jsonld

    try:
        normalized = jsonld.normalize(
            document, {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": document_loader}
        )
    except (jsonld.JsonLdError, ValueError, TypeError, KeyError, RecursionError) as error:
        raise LinkedDataSignatureError("the document cannot be normalised", detail=str(error)) from error
    return hashlib.sha256(str(normalized).encode("utf-8")).hexdigest()


def _to_be_signed(document: JsonObject, creator: str, created: str) -> bytes:
    options = {"@context": IDENTITY_CONTEXT, "creator": creator, "created": created}
    unsigned = {key: value for key, value in document.items() if key != "signature"}
    return (canonical_digest(options) + canonical_digest(unsigned)).encode("ascii")


def sign_document(
    document: JsonObject, private_key: PrivateKey, key_id: str, *, now: datetime | None = None
) -> JsonObject:
    """``document`` with an ``RsaSignature2017`` by ``key_id`` (any earlier signature replaced). CPU work:
    run it in a thread."""
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise TypeError("RsaSignature2017 needs an RSA key")
    created = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    value = private_key.sign(_to_be_signed(document, key_id, created), padding.PKCS1v15(), hashes.SHA256())
    signature = {
        "type": SIGNATURE_TYPE,
        "creator": key_id,
        "created": created,
        "signatureValue": base64.b64encode(value).decode("ascii"),
    }
    return {**{key: value for key, value in document.items() if key != "signature"}, "signature": signature}


def signature_creator(document: JsonObject) -> str | None:
    """The key id an ``RsaSignature2017`` in ``document`` names, or ``None`` when it carries none."""
    signature = document.get("signature")
    if not isinstance(signature, dict) or signature.get("type") != SIGNATURE_TYPE:
        return None
    creator = signature.get("creator")
    return creator if isinstance(creator, str) and creator.startswith(("https://", "http://")) else None


def verify_document(document: JsonObject, public_key: PublicKey) -> str:
    """Check the document's ``RsaSignature2017`` with ``public_key`` (the key its ``creator`` names, which
    the caller looked up); the creator's key id when it verifies, else ``LinkedDataSignatureError``. CPU
    work: run it in a thread."""
    creator = signature_creator(document)
    if creator is None:
        raise LinkedDataSignatureError("the document carries no RsaSignature2017")
    signature = document["signature"]
    created, value = signature.get("created"), signature.get("signatureValue")
    if not isinstance(created, str) or not isinstance(value, str):
        raise LinkedDataSignatureError("the signature lacks created or signatureValue")
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise LinkedDataSignatureError("RsaSignature2017 needs an RSA key")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise LinkedDataSignatureError("the signatureValue is not base64") from error
    try:
        public_key.verify(raw, _to_be_signed(document, creator, created), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as error:
        raise LinkedDataSignatureError("the linked data signature does not verify", detail=creator) from error
    return creator

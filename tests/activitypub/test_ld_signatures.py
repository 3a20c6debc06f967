"""``activitypub/ld_signatures.py`` against real Mastodon signatures and two implementations we did not write
(decision 0058).

* Real: ``tests/data/mastodon_ld_*`` are a Create and a Delete signed by mastodon.social, with the
  signer's actor document (its public key), and a tampered copy (captured by Smithereen's test suite).
* apsig's ``LDSignature`` (PyPI ``apsig``, a port of Takahē's): it signs and verifies what we do.
* ``tests/ld_reference.py``: Mastodon's algorithm written for the tests with pyld and cryptography alone.

No network: every context comes from ``activitypub/contexts``; a document naming another is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from apsig import LDSignature
from pyld import jsonld

from activitypub.keys import load_private_key, load_public_key
from activitypub.ld_signatures import (
    LinkedDataSignatureError,
    document_loader,
    sign_document,
    signature_creator,
    verify_document,
)
from activitypub.vocab import CONTEXT
from tests.fediverse.federation.conftest import DATA
from tests.keys import peer_key
from tests.ld_reference import mastodon_sign, mastodon_verify

KEY_ID = "https://reverie.example/users/ana#main-key"


def capture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DATA / f"mastodon_ld_{name}.json").read_text())
    return document


@pytest.fixture
def mastodon_key() -> Any:
    return load_public_key(capture("actor")["publicKey"]["publicKeyPem"])


@pytest.fixture
def offline_pyld() -> Iterator[None]:
    """apsig calls pyld without a loader of its own: pyld's default one must not reach the network."""
    default = jsonld.get_document_loader()
    jsonld.set_document_loader(document_loader)
    try:
        yield
    finally:
        jsonld.set_document_loader(default)


def our_note() -> dict[str, Any]:
    """A document as we deliver it: our full context, provenance terms included."""
    return {
        "@context": CONTEXT,
        "id": "https://reverie.example/users/ana/statuses/1/activity",
        "type": "Create",
        "actor": "https://reverie.example/users/ana",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": "https://reverie.example/users/ana/statuses/1",
            "type": "Note",
            "attributedTo": "https://reverie.example/users/ana",
            "content": "<p>a lighthouse in fog ✨</p>",
            "sensitive": False,
            "generation": {"prompt": "a lighthouse in fog", "seed": 7, "parameters": {"steps": 20}},
            "attachment": [{"type": "Image", "url": "https://reverie.example/media/a.png", "focalPoint": [0.1, -0.2]}],
        },
    }


@pytest.mark.parametrize("name", ["signed_create", "signed_delete"])
def test_a_real_mastodon_signature_verifies(name: str, mastodon_key: Any) -> None:
    document = capture(name)
    assert verify_document(document, mastodon_key) == "https://mastodon.social/users/grishka#main-key"


def test_a_tampered_mastodon_activity_does_not_verify(mastodon_key: Any) -> None:
    with pytest.raises(LinkedDataSignatureError):
        verify_document(capture("signed_create_tampered"), mastodon_key)


@pytest.mark.parametrize("name", ["signed_create", "signed_delete"])
def test_the_reference_and_apsig_agree_on_the_real_captures(name: str, offline_pyld: None) -> None:
    pem = capture("actor")["publicKey"]["publicKeyPem"]
    assert mastodon_verify(capture(name), pem)
    assert LDSignature().verify(capture(name), load_public_key(pem)) == "https://mastodon.social/users/grishka#main-key"
    assert not mastodon_verify(capture("signed_create_tampered"), pem)


def test_what_we_sign_verifies_with_apsig_and_the_reference(offline_pyld: None) -> None:
    keys = peer_key(2)
    signed = sign_document(our_note(), load_private_key(keys.private_pem), KEY_ID)
    assert signed["signature"]["type"] == "RsaSignature2017" and signed["signature"]["creator"] == KEY_ID
    assert mastodon_verify(signed, keys.public_pem)
    assert LDSignature().verify(signed, load_public_key(keys.public_pem), raise_on_fail=True) == KEY_ID
    # and a change anywhere in the signed graph breaks it, for all three
    signed["object"]["generation"]["seed"] = 8
    assert not mastodon_verify(signed, keys.public_pem)
    assert LDSignature().verify(signed, load_public_key(keys.public_pem)) is None
    with pytest.raises(LinkedDataSignatureError):
        verify_document(signed, load_public_key(keys.public_pem))


def test_what_apsig_and_the_reference_sign_verifies_with_ours(offline_pyld: None) -> None:
    keys = peer_key(3)
    by_apsig = LDSignature().sign(our_note(), KEY_ID, load_private_key(keys.private_pem))  # type: ignore[arg-type]
    assert verify_document(by_apsig, load_public_key(keys.public_pem)) == KEY_ID
    by_reference = mastodon_sign(our_note(), keys.private_pem, KEY_ID)
    assert verify_document(by_reference, load_public_key(keys.public_pem)) == KEY_ID


def test_another_key_does_not_verify() -> None:
    signed = sign_document(our_note(), load_private_key(peer_key(2).private_pem), KEY_ID)
    with pytest.raises(LinkedDataSignatureError):
        verify_document(signed, load_public_key(peer_key(3).public_pem))


def test_a_document_naming_an_unknown_context_is_refused_without_the_network() -> None:
    document = {**our_note(), "@context": ["https://www.w3.org/ns/activitystreams", "https://evil.example/ctx"]}
    signed = {
        **document,
        "signature": {**sign_document(our_note(), load_private_key(peer_key(2).private_pem), KEY_ID)["signature"]},
    }
    with pytest.raises(LinkedDataSignatureError, match="normalised"):
        verify_document(signed, load_public_key(peer_key(2).public_pem))


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "text",
        {"type": "RsaSignature2018"},
        {"type": "RsaSignature2017"},
        {"type": "RsaSignature2017", "creator": 5},
    ],
)
def test_a_missing_or_foreign_signature_names_no_creator(signature: Any) -> None:
    document = {**our_note(), "signature": signature}
    assert signature_creator(document) is None
    with pytest.raises(LinkedDataSignatureError):
        verify_document(document, load_public_key(peer_key(2).public_pem))


def test_a_garbled_signature_value_is_refused() -> None:
    signed = sign_document(our_note(), load_private_key(peer_key(2).private_pem), KEY_ID)
    signed["signature"]["signatureValue"] = "not base64!"
    with pytest.raises(LinkedDataSignatureError):
        verify_document(signed, load_public_key(peer_key(2).public_pem))

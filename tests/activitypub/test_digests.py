"""Body digests, as a peer computes and checks them over the raw bytes."""

from __future__ import annotations

import base64
import hashlib

import pytest

from activitypub.digests import compute_content_digest, compute_digest, verify_content_digest, verify_digest
from activitypub.errors import DigestError

BODY = b'{"id":"https://remote.example/1","type":"Create"}'
SHA256 = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
SHA512 = base64.b64encode(hashlib.sha512(BODY).digest()).decode()


def test_formats() -> None:
    assert compute_digest(BODY) == f"SHA-256={SHA256}"
    assert compute_content_digest(BODY) == f"sha-256=:{SHA256}:"
    # Mastodon's spec value for "Hello world"
    assert compute_digest(b"Hello world") == "SHA-256=ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw="


@pytest.mark.parametrize("header", [f"SHA-256={SHA256}", f"sha-256={SHA256}", f"SHA-512=abc, SHA-256={SHA256}"])
def test_digest_accepted(header: str) -> None:
    verify_digest(header, BODY)


@pytest.mark.parametrize(
    "header",
    [None, "", f"SHA-512={SHA512}", "SHA-256=!!!", "SHA-256=AAAA", "SHA-256=" + compute_digest(b"other")[8:]],
)
def test_digest_refused(header: str | None) -> None:
    with pytest.raises(DigestError):
        verify_digest(header, BODY)


@pytest.mark.parametrize("header", [f"sha-256=:{SHA256}:", f"sha-512=:{SHA512}:, sha-256=:{SHA256}:"])
def test_content_digest_accepted(header: str) -> None:
    verify_content_digest(header, BODY)


@pytest.mark.parametrize(
    "header",
    [
        None,
        f"sha-512=:{SHA512}:",  # Mastodon requires sha-256
        f"sha-256={SHA256}",  # not a byte sequence
        "sha-256=:" + compute_content_digest(b"x")[9:],
        f"sha-256=:{SHA256}:, sha-512=:{SHA256}:",  # a present sha-512 must match too
        "sha-256=:AAA",
    ],
)
def test_content_digest_refused(header: str | None) -> None:
    with pytest.raises(DigestError):
        verify_content_digest(header, BODY)

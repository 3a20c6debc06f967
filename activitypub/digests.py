"""Body digests: ``Digest`` (RFC 3230, as draft-cavage signatures use it) and ``Content-Digest`` (RFC 9530).

Both are computed over the exact raw bytes of the body, before any JSON parsing: re-serialising a
document changes its bytes and breaks the digest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from activitypub.errors import DigestError
from activitypub.structured_fields import Item, StructuredFieldError, parse_dictionary


def compute_digest(body: bytes) -> str:
    """The ``Digest`` header value Mastodon sends: ``SHA-256=<base64>`` (RFC 3230 §4.3.2)."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def compute_content_digest(body: bytes) -> str:
    """The ``Content-Digest`` header value: ``sha-256=:<base64>:`` (RFC 9530 §2)."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def verify_digest(header_value: str | None, body: bytes) -> None:
    """Check a ``Digest`` header against ``body`` (RFC 3230), as Mastodon does.

    The header may list several ``algorithm=value`` pairs; algorithm names are case-insensitive
    and only SHA-256 is accepted (Mastodon's rule: an offer without SHA-256 is refused).
    Raises ``DigestError`` when the header is missing, malformed, lacks SHA-256 or does not match.
    """
    if header_value is None or not header_value.strip():
        raise DigestError("Digest header missing")
    offered: dict[str, str] = {}
    for part in header_value.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            offered[name.strip().lower()] = value.strip()
    encoded = offered.get("sha-256")
    if encoded is None:
        raise DigestError("Digest header lacks SHA-256", detail=f"offered: {sorted(offered)}")
    try:
        given = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise DigestError("Digest value is not base64") from error
    if len(given) != hashlib.sha256().digest_size:
        raise DigestError("Digest value is not a SHA-256 digest")
    if not hmac.compare_digest(given, hashlib.sha256(body).digest()):
        raise DigestError("Digest does not match body")


def verify_content_digest(header_value: str | None, body: bytes) -> None:
    """Check a ``Content-Digest`` header against ``body`` (RFC 9530 §2).

    The value is a Structured Field Dictionary of byte sequences. ``sha-256`` must be present (as
    Mastodon requires); a ``sha-512`` member, when also present, must match too.
    Raises ``DigestError`` on any failure.
    """
    if header_value is None or not header_value.strip():
        raise DigestError("Content-Digest header missing")
    try:
        members = parse_dictionary(header_value)
    except StructuredFieldError as error:
        raise DigestError("Content-Digest is not a valid structured field", detail=str(error)) from error
    if "sha-256" not in members:
        raise DigestError("Content-Digest lacks sha-256", detail=f"offered: {sorted(members)}")
    hashers = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
    for name, hasher in hashers.items():
        member = members.get(name)
        if member is None:
            continue
        if not isinstance(member, Item) or not isinstance(member.value, bytes):
            raise DigestError(f"Content-Digest {name} is not a byte sequence")
        if not hmac.compare_digest(member.value, hasher(body).digest()):
            raise DigestError("Content-Digest does not match body")

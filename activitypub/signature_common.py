"""What both HTTP signature schemes share: resolved keys, the verified result, the time window,
the raw cryptographic check, and the key-refresh-once rule.

Used by ``signatures`` (draft-cavage) and ``message_signatures`` (RFC 9421); the application
imports these names from ``activitypub.signatures``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from activitypub.errors import (
    ActivityPubError,
    KeyUnavailableError,
    MisdirectedRequestError,
    SignatureError,
    SignatureExpiredError,
    SignatureMismatchError,
)
from activitypub.keys import PublicKey

SignatureScheme = Literal["draft-cavage", "rfc9421"]


@dataclass(frozen=True)
class ResolvedKey:
    """A public key and the actor that owns it, as the application's key cache knows them.

    ``fresh`` says the key was fetched just now: a failed verification is then not retried
    with ``refresh=True`` (there is nothing newer to fetch).
    """

    key_id: str
    owner_id: str
    public_key: PublicKey
    fresh: bool = False


class KeyResolver(Protocol):
    """Look a ``keyId`` up (from cache, or fetched when ``refresh`` or unknown).

    Raise ``KeyUnavailableError`` when the key cannot be had; other ``ActivityPubError``s are
    reported as ``KeyUnavailableError`` too.
    """

    async def __call__(self, key_id: str, *, refresh: bool) -> ResolvedKey: ...


@dataclass(frozen=True)
class VerifiedSignature:
    """The outcome of a successful verification.

    ``owner_id`` is the key's owner according to the resolver; the caller must still check it
    equals the activity's ``actor`` (Mastodon drops the activity otherwise).
    """

    key_id: str
    owner_id: str
    scheme: SignatureScheme
    algorithm: str
    created: datetime

    def is_signed_by(self, actor_id: str) -> bool:
        return self.owner_id == actor_id


@dataclass(frozen=True)
class TimeWindow:
    """Mastodon's acceptance window (app/lib/signed_request.rb).

    A signature without ``expires`` expires ``default_validity`` after its creation, never later
    than ``max_validity``; ``clock_skew`` is tolerated on both ends. With the defaults, a
    ``Date``-only signature is accepted from 65 minutes in the past to 60 minutes in the future.
    We use the same window for RFC 9421 (Fedify checks ``created`` within ±1 minute only, which
    rejects senders with a slightly wrong clock that Mastodon accepts).
    """

    clock_skew: timedelta = timedelta(hours=1)
    default_validity: timedelta = timedelta(minutes=5)
    max_validity: timedelta = timedelta(hours=12)


def check_time_window(created: datetime, expires: datetime | None, *, now: datetime, window: TimeWindow) -> None:
    """Raise ``SignatureExpiredError`` unless ``now`` lies within the signature's validity window."""
    limit = created + window.max_validity
    effective_expiry = min(expires if expires is not None else created + window.default_validity, limit)
    if created > now + window.clock_skew:
        raise SignatureExpiredError("signature created in the future", detail=f"created {created.isoformat()}")
    if now > effective_expiry + window.clock_skew:
        raise SignatureExpiredError("signature expired", detail=f"created {created.isoformat()}")


def timestamp_to_datetime(value: int) -> datetime:
    """A Unix timestamp as an aware UTC datetime; ``SignatureExpiredError`` when out of range."""
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise SignatureExpiredError("signature timestamp out of range") from error


def utc_now() -> datetime:
    return datetime.now(UTC)


def verify_signature_bytes(public_key: PublicKey, algorithm: str, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` over ``message`` verifies with ``public_key`` under ``algorithm``.

    ``algorithm`` is ``rsa-sha256`` (draft-cavage), ``rsa-v1_5-sha256`` (RFC 9421 §3.3.2),
    ``ed25519`` (RFC 9421 §3.3.6) or ``hs2019``, which leaves the choice to the key type as every
    fediverse server does (GoToSocial sends ``hs2019`` for RSA-SHA256).
    """
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and algorithm in {"rsa-sha256", "rsa-v1_5-sha256", "hs2019"}:
            public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            return True
        if isinstance(public_key, ed25519.Ed25519PublicKey) and algorithm in {"ed25519", "hs2019"}:
            public_key.verify(signature, message)
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


async def resolve_and_verify(key_id: str, resolve_key: KeyResolver, check: Callable[[PublicKey], bool]) -> ResolvedKey:
    """Resolve ``key_id`` and run ``check`` with its key; on failure refresh the key once and retry.

    The refresh covers key rotation (Mastodon refetches the key once before giving up,
    signature_verification.rb). A key the resolver reports as ``fresh`` is not refreshed.
    """
    resolved = await _resolve(resolve_key, key_id, refresh=False)
    if check(resolved.public_key):
        return resolved
    if resolved.fresh:
        raise SignatureMismatchError("signature does not verify", detail=f"key {key_id}")
    refreshed = await _resolve(resolve_key, key_id, refresh=True)
    if check(refreshed.public_key):
        return refreshed
    raise SignatureMismatchError("signature does not verify", detail=f"key {key_id} (refreshed)")


async def _resolve(resolve_key: KeyResolver, key_id: str, *, refresh: bool) -> ResolvedKey:
    try:
        return await resolve_key(key_id, refresh=refresh)
    except SignatureError:
        raise
    except ActivityPubError as error:
        raise KeyUnavailableError("signer's key is unavailable", detail=f"{key_id}: {error.detail}") from error


def canonical_host(authority: str) -> str:
    """``host[:port]`` as compared with our own: lower case, no trailing dot, no port 80 or 443 (a proxy
    in front of us may pass either on; any other port names another server)."""
    value = authority.strip().lower()
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():  # no port (an IPv6 literal's last group is not one)
        host, port = value, ""
    host = host.removesuffix(".")
    return host if port in ("", "80", "443") else f"{host}:{port}"


def check_host(headers: Mapping[str, str], expected_host: str) -> None:
    """Refuse (``MisdirectedRequestError``) a request whose ``Host`` is not ``expected_host``.

    Both schemes sign the ``Host`` we see (draft-cavage's ``host``, RFC 9421's ``@authority`` and
    ``@target-uri``), so this one check also refuses a signature made for another server. A repeated
    ``Host`` arrives joined by a comma and never matches.
    """
    received = lower_headers(headers).get("host", "")
    if canonical_host(received) != canonical_host(expected_host):
        raise MisdirectedRequestError(
            f"the request is for host {received.strip()[:255]!r}, not this server ({expected_host}); "
            "a signature is valid only at the server it was made for"
        )


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers keyed by lowercase name; repeated fields (if the mapping yields them) joined by ", "."""
    combined: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        combined[key] = f"{combined[key]}, {value}" if key in combined else value
    return combined

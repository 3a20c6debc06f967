"""Password hashing with Argon2id, off the event loop (a hash costs tens of milliseconds by design)."""

from __future__ import annotations

import asyncio
import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024

_hasher = PasswordHasher()  # argon2-cffi's defaults (RFC 9106's low-memory profile): parameters, not configuration


def use_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Hash new passwords with ``hasher`` from now on; returns the one it replaces.

    Only the test suite calls this, to swap in a cheap hasher: each default hash costs tens of
    milliseconds and 64 MiB by design. Existing hashes verify whatever made them (the parameters are in
    the hash), so the swap changes only the cost of new ones.
    """
    global _hasher
    previous, _hasher = _hasher, hasher
    return previous


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing hash (no such account, or no password set) never matches.

    Without a hash the password is still checked, against a stand-in hash with the same parameters, so
    that an unknown username takes as long to refuse as a wrong password: timing does not tell which
    accounts exist.
    """
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    return await asyncio.to_thread(_verify, password_hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        matched = _hasher.verify(password_hash or _stand_in_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and bool(password_hash)


@functools.cache
def _stand_in_hash() -> str:
    """The hash of a random password nobody knows, made once per process."""
    return _hasher.hash(secrets.token_urlsafe(24))


def password_problem(password: str) -> str | None:
    """Why a new password is unacceptable, or ``None``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Passwords need at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Passwords may have at most {MAX_PASSWORD_LENGTH} characters."
    return None

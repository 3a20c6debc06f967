"""Sign-in throttling: failed attempts counted per username and per client address, in the database.

The counts live in ``sign_in_failures`` so that every web process sees the same numbers: with several
``reverie serve --workers`` processes an attacker does not get a fresh allowance from each
(docs/decisions/0042). A failure costs one small write, next to Argon2's far larger cost per attempt.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select

from storage.db import Database
from storage.models import SignInFailure
from storage.types import utcnow


@dataclass(frozen=True)
class SignInThrottle:
    """At most ``per_user`` failures per username and ``per_address`` per client in a sliding ``window``."""

    per_user: int = 8
    per_address: int = 30
    window: timedelta = timedelta(minutes=15)
    clock: Callable[[], datetime] = utcnow

    async def retry_after(self, db: Database, username: str, address: str) -> int | None:
        """Seconds until this username and address may try again, or ``None`` when both are under limit."""
        now = self.clock()
        limits = {_user_key(username): self.per_user, _address_key(address): self.per_address}
        async with db.session() as session:
            rows = await session.execute(
                select(SignInFailure.key, func.count(), func.min(SignInFailure.failed_at))
                .where(SignInFailure.key.in_(limits), SignInFailure.failed_at > now - self.window)  # type: ignore[attr-defined]
                .group_by(SignInFailure.key)
            )
            waits = [
                max(1, math.ceil((oldest + self.window - now).total_seconds()))
                for key, count, oldest in rows
                if count >= limits[key]
            ]
        return max(waits) if waits else None

    async def record_failure(self, db: Database, username: str, address: str) -> None:
        """Count one failure for both keys, and forget failures that left the window (anyone's)."""
        now = self.clock()
        async with db.transaction() as session:
            await session.execute(delete(SignInFailure).where(SignInFailure.failed_at <= now - self.window))  # type: ignore[arg-type]
            await session.execute(
                insert(SignInFailure),
                [{"key": _user_key(username), "failed_at": now}, {"key": _address_key(address), "failed_at": now}],
            )

    async def record_success(self, db: Database, username: str) -> None:
        """The right password clears the username's count (the address keeps its own)."""
        async with db.transaction() as session:
            await session.execute(delete(SignInFailure).where(SignInFailure.key == _user_key(username)))  # type: ignore[arg-type]


def _user_key(username: str) -> str:
    return f"user:{username[:280]}"


def _address_key(address: str) -> str:
    return f"address:{address[:280]}"

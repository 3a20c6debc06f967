"""Rate limits: sign-in throttling, and the inbox's allowance per sending server.

Sign-in failures are counted per client address and per username at that address, in
``sign_in_failures``, so that every web process sees the same numbers: with several ``reverie serve
--workers`` processes an attacker does not get a fresh allowance from each (docs/decisions/0042). A
failure costs one small write, next to Argon2's far larger cost per attempt. No count is kept per username
alone: that would let anyone lock an account's owner out by failing on purpose from anywhere. Guessing one
password from many addresses is left to Argon2's cost, as in Mastodon and GoToSocial. An IPv6 client
counts as its /64, the block one subscriber usually holds.

Inbox deliveries are counted in memory, a token bucket per sending host in each web process (decision
0023): a check costs nothing next to the signature it saves, and N processes allow N times the rate.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlmodel import col

from storage.db import Database
from storage.models import SignInFailure
from storage.types import utcnow


@dataclass(frozen=True)
class SignInThrottle:
    """At most ``per_user_and_address`` failures for one username from one client, and ``per_address``
    from one client whatever the usernames, in a sliding ``window``."""

    per_user_and_address: int = 8
    per_address: int = 30
    window: timedelta = timedelta(minutes=15)
    clock: Callable[[], datetime] = utcnow

    async def retry_after(self, db: Database, username: str, address: str) -> int | None:
        """Seconds until this username and address may try again, or ``None`` when both are under limit."""
        now = self.clock()
        limits = {_user_key(username, address): self.per_user_and_address, _address_key(address): self.per_address}
        async with db.session() as session:
            rows = await session.execute(
                select(col(SignInFailure.key), func.count(), func.min(col(SignInFailure.failed_at)))
                .where(col(SignInFailure.key).in_(limits), col(SignInFailure.failed_at) > now - self.window)
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
                [
                    {"key": _user_key(username, address), "failed_at": now},
                    {"key": _address_key(address), "failed_at": now},
                ],
            )

    async def record_success(self, db: Database, username: str, address: str) -> None:
        """The right password clears the username's count at this address (the address keeps its own)."""
        async with db.transaction() as session:
            await session.execute(delete(SignInFailure).where(SignInFailure.key == _user_key(username, address)))  # type: ignore[arg-type]


def client_block(address: str) -> str:
    """What one client is counted as: its IPv4 address, or the /64 of its IPv6 address."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _user_key(username: str, address: str) -> str:
    return f"user:{username[:64]} address:{client_block(address)}"


def _address_key(address: str) -> str:
    return f"address:{client_block(address)}"


#: Sending hosts whose buckets are remembered; the least recently active beyond this start afresh.
MAX_TRACKED_HOSTS = 10_000


class HostRateLimit:
    """A token bucket per sending host: ``per_second`` sustained, up to ``burst`` at once (0: no limit).

    Ask ``retry_after`` before the work and ``spend`` once the sender is proven (a verified signature),
    so that requests forged in a server's name never use up that server's allowance. Requests in flight
    between the two may leave a bucket in debt; its sender then waits that much longer.
    """

    def __init__(
        self,
        per_second: float,
        burst: int,
        *,
        max_hosts: int = MAX_TRACKED_HOSTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_second
        self.burst = burst
        self.max_hosts = max_hosts
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # host -> (tokens, as of)

    def retry_after(self, host: str) -> int | None:
        """Whole seconds until ``host`` may send again, or ``None`` when it may now."""
        if not self.per_second:
            return None
        tokens = self._tokens(host)
        return None if tokens >= 1 else max(1, math.ceil((1 - tokens) / self.per_second))

    def spend(self, host: str) -> None:
        """Count one request from ``host``."""
        if not self.per_second:
            return
        self._buckets[host] = (self._tokens(host) - 1, self.clock())
        self._buckets.move_to_end(host)
        while len(self._buckets) > self.max_hosts:
            self._buckets.popitem(last=False)

    def _tokens(self, host: str) -> float:
        tokens, as_of = self._buckets.get(host, (self.burst, 0.0))
        return min(self.burst, tokens + (self.clock() - as_of) * self.per_second)

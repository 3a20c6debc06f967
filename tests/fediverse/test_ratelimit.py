"""The sign-in throttle's sliding window, as the database keeps it; the inbox's bucket per sending server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from fediverse.web.rate_limits import HostRateLimit, SignInThrottle
from storage.db import Database


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    asyncio.run(database.dispose())


def test_a_username_is_refused_at_one_address_after_its_limit_until_the_window_passes(database: Database) -> None:
    clock = Clock()
    throttle = SignInThrottle(per_user_and_address=3, per_address=100, window=timedelta(minutes=15), clock=clock)

    async def run() -> None:
        for minute in range(3):
            assert await throttle.retry_after(database, "ana", "10.0.0.1") is None
            clock.now += timedelta(minutes=minute)
            await throttle.record_failure(database, "ana", "10.0.0.1")
        # Refused at that address until the first failure (at 12:00) leaves the 15-minute window;
        # the same name from another address, and another name from this one, are not.
        assert await throttle.retry_after(database, "ana", "10.0.0.1") == 12 * 60
        assert await throttle.retry_after(database, "ana", "10.0.0.2") is None
        assert await throttle.retry_after(database, "bob", "10.0.0.1") is None
        clock.now = datetime(2026, 11, 25, 12, 15, 1, tzinfo=UTC)
        assert await throttle.retry_after(database, "ana", "10.0.0.1") is None
        await database.dispose()

    asyncio.run(run())


def test_an_address_is_refused_across_usernames_and_success_clears_only_the_username(database: Database) -> None:
    clock = Clock()
    throttle = SignInThrottle(per_user_and_address=2, per_address=3, clock=clock)

    async def run() -> None:
        await throttle.record_failure(database, "ana", "10.0.0.1")
        await throttle.record_failure(database, "ana", "10.0.0.1")
        assert await throttle.retry_after(database, "ana", "10.0.0.1") is not None
        await throttle.record_success(database, "ana", "10.0.0.1")
        assert await throttle.retry_after(database, "ana", "10.0.0.1") is None
        await throttle.record_failure(database, "bob", "10.0.0.1")
        # Three failures from one address, whoever they named: the address waits.
        assert await throttle.retry_after(database, "cleo", "10.0.0.1") is not None
        assert await throttle.retry_after(database, "cleo", "10.0.0.2") is None
        await database.dispose()

    asyncio.run(run())


class Seconds:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_sending_server_gets_its_burst_then_the_sustained_rate() -> None:
    clock = Seconds()
    limit = HostRateLimit(per_second=2, burst=4, clock=clock)
    # A burst of four passes, the fifth waits for a token (half a second, rounded up to one)
    for _ in range(4):
        assert limit.retry_after("a.example") is None
        limit.spend("a.example")
    assert limit.retry_after("a.example") == 1
    # Another server is not affected
    assert limit.retry_after("b.example") is None
    # Tokens come back at the sustained rate, never beyond the burst
    clock.now += 0.5
    assert limit.retry_after("a.example") is None
    clock.now += 3600
    for _ in range(4):
        limit.spend("a.example")
    assert limit.retry_after("a.example") == 1


def test_requests_in_flight_leave_a_debt_that_lengthens_the_wait() -> None:
    clock = Seconds()
    limit = HostRateLimit(per_second=1, burst=1, clock=clock)
    for _ in range(4):  # four checked before any was counted, then all counted
        limit.spend("a.example")
    assert limit.retry_after("a.example") == 4


def test_no_rate_means_no_limit_and_forgotten_hosts_start_afresh() -> None:
    unlimited = HostRateLimit(per_second=0, burst=1)
    for _ in range(100):
        unlimited.spend("a.example")
    assert unlimited.retry_after("a.example") is None
    small = HostRateLimit(per_second=1, burst=1, max_hosts=2, clock=Seconds())
    for host in ("a.example", "b.example", "c.example"):
        small.spend(host)
    assert small.retry_after("a.example") is None  # the least recently active was forgotten
    assert small.retry_after("c.example") == 1


def test_an_ipv6_client_counts_as_its_slash_64(database: Database) -> None:
    throttle = SignInThrottle(per_user_and_address=2, per_address=100, clock=Clock())

    async def run() -> None:
        # Hopping between addresses of one /64 (one subscriber's usual block) does not reset the count.
        await throttle.record_failure(database, "ana", "2001:db8:1:2::a")
        await throttle.record_failure(database, "ana", "2001:db8:1:2:ffff::b")
        assert await throttle.retry_after(database, "ana", "2001:db8:1:2::c") is not None
        assert await throttle.retry_after(database, "ana", "2001:db8:1:3::a") is None
        # An IPv4 client reached over a dual-stack socket is still its IPv4 address.
        await throttle.record_failure(database, "ana", "::ffff:10.0.0.7")
        await throttle.record_failure(database, "ana", "10.0.0.7")
        assert await throttle.retry_after(database, "ana", "10.0.0.7") is not None
        await database.dispose()

    asyncio.run(run())

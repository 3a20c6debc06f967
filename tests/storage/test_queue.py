"""Claiming work rows: never the same row twice at once, and a crashed worker's claims expire."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.claims import claim_due, extend_claims, holding_claims
from storage.db import Database
from storage.models import Actor, Delivery, OutboxActivity, WorkState
from storage.types import utcnow

pytestmark = pytest.mark.anyio


async def add_deliveries(database: Database, count: int, *, due_in: timedelta = timedelta(0)) -> None:
    async with database.transaction() as session:
        actor = Actor(ap_id="https://x.example/u", username="u", domain="x.example", inbox_url="https://x.example/i")
        session.add(actor)
        await session.flush()
        assert actor.id is not None
        activity = OutboxActivity(ap_id="https://x.example/a/1", actor_id=actor.id, type="Create", payload={})
        session.add(activity)
        await session.flush()
        assert activity.id is not None
        for index in range(count):
            session.add(
                Delivery(
                    activity_id=activity.id,
                    inbox_url=f"https://h{index}.example/inbox",
                    host=f"h{index}.example",
                    next_attempt_at=utcnow() + due_in,
                )
            )


async def test_concurrent_claimers_split_the_work_without_overlap(database_url: str) -> None:
    database = Database(database_url)
    try:
        await add_deliveries(database, 200)

        async def claimer() -> list[int]:
            mine: list[int] = []
            while True:
                async with database.transaction() as session:
                    rows = await claim_due(session, Delivery, limit=7, lock_for=timedelta(minutes=5))
                if not rows:
                    return mine
                mine += [row.id for row in rows if row.id is not None]

        results = await asyncio.gather(*(claimer() for _ in range(5)))
        claimed = [row_id for result in results for row_id in result]
        assert len(claimed) == 200
        assert len(set(claimed)) == 200
    finally:
        await database.dispose()


async def test_rows_not_yet_due_or_not_queued_are_left_alone(database_url: str) -> None:
    database = Database(database_url)
    try:
        await add_deliveries(database, 3, due_in=timedelta(minutes=10))
        async with database.transaction() as session:
            assert await claim_due(session, Delivery, limit=10, lock_for=timedelta(minutes=1)) == []
            later = utcnow() + timedelta(minutes=11)
            rows = await claim_due(session, Delivery, limit=10, lock_for=timedelta(minutes=1), now=later)
            assert len(rows) == 3
            rows[0].state = WorkState.DONE
        async with database.transaction() as session:
            far = utcnow() + timedelta(hours=1)
            again = await claim_due(session, Delivery, limit=10, lock_for=timedelta(minutes=1), now=far)
        assert sorted(row.id for row in again if row.id) == sorted(row.id for row in rows[1:] if row.id)
    finally:
        await database.dispose()


async def test_a_crashed_workers_claims_expire(database_url: str) -> None:
    database = Database(database_url)
    try:
        await add_deliveries(database, 2)
        async with database.transaction() as session:
            first = await claim_due(session, Delivery, limit=10, lock_for=timedelta(seconds=30))
        # The worker that claimed them dies; another finds nothing while the lock holds…
        async with database.transaction() as session:
            assert await claim_due(session, Delivery, limit=10, lock_for=timedelta(seconds=30)) == []
        # …and everything once it has expired.
        async with database.transaction() as session:
            later = utcnow() + timedelta(seconds=31)
            second = await claim_due(session, Delivery, limit=10, lock_for=timedelta(seconds=30), now=later)
        assert {row.id for row in second} == {row.id for row in first}
        async with database.session() as session:
            locks = (await session.scalars(select(Delivery.locked_until))).all()
        assert all(lock is not None and lock > utcnow() + timedelta(seconds=31) for lock in locks)
    finally:
        await database.dispose()


async def test_extended_claims_outlive_their_first_lock(database_url: str) -> None:
    database = Database(database_url)
    try:
        await add_deliveries(database, 3)
        async with database.transaction() as session:
            rows = await claim_due(session, Delivery, limit=10, lock_for=timedelta(seconds=10))
        ids = [row.id for row in rows if row.id is not None]
        async with holding_claims(database, Delivery, ids[:2], lock_for=timedelta(minutes=10)):
            await extend_claims(database, Delivery, ids[:2], lock_for=timedelta(minutes=10))
            after_first_lock = utcnow() + timedelta(seconds=11)
            async with database.transaction() as session:
                reclaimed = await claim_due(
                    session, Delivery, limit=10, lock_for=timedelta(seconds=10), now=after_first_lock
                )
        # Only the row whose claim was not extended is free again once the first lock has passed.
        assert [row.id for row in reclaimed] == ids[2:]
    finally:
        await database.dispose()

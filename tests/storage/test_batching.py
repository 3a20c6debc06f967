"""Group commit: every caller learns its own row's fate, replays are no-ops, and nothing is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.batching import BatchInserter
from storage.db import Database
from storage.models import InboxItem
from storage.types import RawJson, utcnow

pytestmark = pytest.mark.anyio


def item(activity_id: str, **changes: Any) -> dict[str, Any]:
    now = utcnow()
    row = {
        "activity_ap_id": activity_id,
        "actor_ap_id": "https://peer.example/users/ben",
        "type": "Like",
        "payload": {"id": activity_id, "type": "Like"},
        "recipient_account_id": None,
        "state": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "received_at": now,
    }
    return row | changes


async def stored_ids(database: Database) -> list[str]:
    async with database.session() as session:
        return sorted(await session.scalars(select(InboxItem.activity_ap_id)))


async def test_concurrent_callers_each_get_their_row_stored_once(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with BatchInserter(database, InboxItem.__table__, conflict_columns=["activity_ap_id"]) as writer:
            ids = [f"https://peer.example/a/{index}" for index in range(50)]
            # The same activities arrive twice (a peer retrying), all at once.
            await asyncio.gather(*(writer.insert(item(activity_id)) for activity_id in ids + ids))
        assert await stored_ids(database) == sorted(ids)
        assert writer.batches < 50  # they were committed together, not one by one
    finally:
        await database.dispose()


async def test_a_bad_row_fails_alone_and_its_batch_neighbours_are_stored(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with BatchInserter(database, InboxItem.__table__, conflict_columns=["activity_ap_id"]) as writer:
            good = [f"https://peer.example/a/{index}" for index in range(10)]
            results = await asyncio.gather(
                *(writer.insert(item(activity_id)) for activity_id in good),
                writer.insert(item("https://peer.example/bad", type=None)),  # violates NOT NULL
                return_exceptions=True,
            )
        assert results[:10] == [None] * 10
        assert isinstance(results[10], Exception)
        assert await stored_ids(database) == sorted(good)
    finally:
        await database.dispose()


async def test_a_screen_refuses_rows_in_the_transaction_that_stores_the_others(database_url: str) -> None:
    async def refuse_blocked(connection: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[BaseException | None]:
        assert connection.in_transaction()
        return [PermissionError(row["activity_ap_id"]) if "blocked" in row["actor_ap_id"] else None for row in rows]

    database = Database(database_url)
    try:
        async with BatchInserter(
            database, InboxItem.__table__, conflict_columns=["activity_ap_id"], screen=refuse_blocked
        ) as writer:
            results = await asyncio.gather(
                writer.insert(item("https://peer.example/a/1")),
                writer.insert(item("https://blocked.example/a/2", actor_ap_id="https://blocked.example/users/x")),
                return_exceptions=True,
            )
        assert results[0] is None
        assert isinstance(results[1], PermissionError)
        assert await stored_ids(database) == ["https://peer.example/a/1"]
    finally:
        await database.dispose()


async def test_raw_json_is_stored_as_received_and_read_back_as_a_document(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with BatchInserter(database, InboxItem.__table__, conflict_columns=["activity_ap_id"]) as writer:
            await writer.insert(item("https://peer.example/a/raw", payload=RawJson('{"id": "x", "n": [1, 2.5]}')))
        async with database.session() as session:
            payload = await session.scalar(select(InboxItem.payload))
            count = await session.scalar(select(func.count()).select_from(InboxItem))
        assert payload == {"id": "x", "n": [1, 2.5]}
        assert count == 1
    finally:
        await database.dispose()


async def test_inserting_after_the_writer_stopped_is_refused(database_url: str) -> None:
    database = Database(database_url)
    try:
        writer = BatchInserter(database, InboxItem.__table__, conflict_columns=["activity_ap_id"])
        async with writer:
            pass
        with pytest.raises(RuntimeError, match="not running"):
            await writer.insert(item("https://peer.example/a/late"))
        assert await stored_ids(database) == []
    finally:
        await database.dispose()

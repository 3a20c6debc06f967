"""The database layer: URLs, SQLite pragmas, write locking, migrations and UTC timestamps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from storage.db import Database, DatabaseURLError, WriteTurns, normalize_url
from storage.models import Actor
from storage.types import new_snowflake

pytestmark = pytest.mark.anyio


def make_actor(name: str) -> Actor:
    return Actor(ap_id=f"https://x.example/users/{name}", username=name, domain="x.example", inbox_url="https://x/i")


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("sqlite:////tmp/a.db", "sqlite+aiosqlite"),
        ("postgresql://u@127.0.0.1/db", "postgresql+asyncpg"),
        ("postgres://u@127.0.0.1/db", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@127.0.0.1/db", "postgresql+asyncpg"),
    ],
)
def test_urls_get_the_async_driver(raw: str, driver: str) -> None:
    assert normalize_url(raw).drivername == driver


@pytest.mark.parametrize("raw", ["mysql://h/db", "sqlite://", "sqlite:///:memory:", "postgresql+psycopg2://h/db", "::"])
def test_unusable_urls_are_refused(raw: str) -> None:
    with pytest.raises(DatabaseURLError):
        normalize_url(raw)


async def test_migrations_are_at_head_and_idempotent(database_url: str) -> None:
    database = Database(database_url)
    try:
        await database.migrate()  # already migrated by the fixture: a no-op
        assert await database.current_revision() is not None
    finally:
        await database.dispose()


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_databases: object) -> None:
    database = Database(sqlite_databases.create())  # type: ignore[attr-defined]
    try:
        async with database.engine.connect() as connection:
            assert (await connection.scalar(text("PRAGMA journal_mode"))) == "wal"
            assert (await connection.scalar(text("PRAGMA busy_timeout"))) >= 5000
            assert (await connection.scalar(text("PRAGMA foreign_keys"))) == 1
    finally:
        await database.dispose()


async def test_concurrent_read_then_write_transactions_do_not_fail(database_url: str) -> None:
    """Each transaction reads, then writes: on SQLite that only works when the write lock is taken up front."""
    database = Database(database_url)
    try:

        async def read_then_write(index: int) -> None:
            async with database.transaction() as session:
                await session.scalar(select(Actor.id).limit(1))
                await asyncio.sleep(0)  # let the others interleave between the read and the write
                session.add(make_actor(f"a{index}"))

        await asyncio.gather(*(read_then_write(index) for index in range(20)))
        async with database.session() as session:
            assert len((await session.scalars(select(Actor))).all()) == 20
    finally:
        await database.dispose()


async def test_a_failed_transaction_leaves_nothing_behind(database_url: str) -> None:
    database = Database(database_url)
    try:
        with pytest.raises(RuntimeError):
            async with database.transaction() as session:
                session.add(make_actor("ghost"))
                await session.flush()
                raise RuntimeError("crash between writes")
        async with database.session() as session:
            assert (await session.scalars(select(Actor))).all() == []
    finally:
        await database.dispose()


async def test_a_unit_of_work_commits_whole_or_not_at_all(database_url: str) -> None:
    """``write(fn)`` commits what ``fn`` did when it returns and nothing when it raises; ``read(fn)`` sees it."""
    database = Database(database_url)

    def add_two(session: Session) -> int:
        session.add_all([make_actor("one"), make_actor("two")])
        session.flush()
        return len(session.scalars(select(Actor)).all())

    def add_then_fail(session: Session) -> None:
        session.add(make_actor("ghost"))
        session.flush()
        raise RuntimeError("crash between writes")

    try:
        assert await database.write(add_two) == 2
        with pytest.raises(RuntimeError):
            await database.write(add_then_fail)
        names = await database.read(lambda session: sorted(session.scalars(select(Actor.username)).all()))
        assert names == ["one", "two"]
    finally:
        await database.dispose()


async def test_unit_writes_and_async_writers_share_the_writer(database_url: str) -> None:
    """Units and ``transaction()``s that read before they write, all at once: every one commits."""
    database = Database(database_url)

    def unit(index: int) -> Callable[[Session], None]:
        def read_then_write(session: Session) -> None:
            session.scalar(select(Actor.id).limit(1))
            session.add(make_actor(f"u{index}"))

        return read_then_write

    async def async_writer(index: int) -> None:
        async with database.transaction() as session:
            await session.scalar(select(Actor.id).limit(1))
            await asyncio.sleep(0)
            session.add(make_actor(f"a{index}"))

    try:
        await asyncio.gather(
            *(database.write(unit(index)) for index in range(12)), *(async_writer(index) for index in range(12))
        )
        assert await database.read(lambda session: len(session.scalars(select(Actor)).all())) == 24
    finally:
        await database.dispose()


async def test_unit_connections_on_sqlite_have_the_same_pragmas(sqlite_databases: object) -> None:
    database = Database(sqlite_databases.create())  # type: ignore[attr-defined]

    def pragmas(session: Session) -> tuple[object, ...]:
        return tuple(
            session.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "busy_timeout", "foreign_keys")
        )

    try:
        journal_mode, busy_timeout, foreign_keys = await database.read(pragmas)
        assert journal_mode == "wal" and busy_timeout >= 5000 and foreign_keys == 1  # type: ignore[operator]
    finally:
        await database.dispose()


async def test_timestamps_come_back_aware_and_in_utc(database_url: str) -> None:
    database = Database(database_url)
    moment = datetime(2026, 5, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    try:
        async with database.transaction() as session:
            actor = make_actor("t")
            actor.published = moment
            session.add(actor)
        async with database.session() as session:
            stored = await session.scalar(select(Actor.published))
        assert stored == moment
        assert stored is not None and stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
        with pytest.raises(Exception, match="naive"):
            async with database.transaction() as session:
                naive = make_actor("naive")
                naive.published = datetime(2026, 1, 1)
                session.add(naive)
    finally:
        await database.dispose()


def test_snowflakes_increase_and_encode_time() -> None:
    ids = [new_snowflake() for _ in range(1000)]
    assert ids == sorted(ids) and len(set(ids)) == 1000
    assert abs((ids[0] >> 16) / 1000 - datetime.now(UTC).timestamp()) < 5


async def test_write_turns_serve_urgent_waiters_first_and_survive_cancelled_ones() -> None:
    turns = WriteTurns()
    order: list[str] = []
    await turns.acquire()

    async def take(name: str, *, urgent: bool) -> None:
        await turns.acquire(urgent=urgent)
        order.append(name)
        turns.release()

    first_ordinary = asyncio.create_task(take("ordinary", urgent=False))
    given_up = asyncio.create_task(take("gave up", urgent=False))
    urgent = asyncio.create_task(take("urgent", urgent=True))
    await asyncio.sleep(0)  # all three are now waiting behind the holder
    given_up.cancel()
    turns.release()
    await asyncio.gather(first_ordinary, urgent, given_up, return_exceptions=True)
    assert order == ["urgent", "ordinary"]
    assert not turns.locked


async def test_a_write_transaction_inside_another_fails_instead_of_hanging_on_sqlite(sqlite_databases: object) -> None:
    database = Database(sqlite_databases.create(), busy_timeout_ms=50)  # type: ignore[attr-defined]
    try:
        async with database.transaction():
            with pytest.raises(OperationalError, match="write turn"):
                async with database.transaction():
                    pass
    finally:
        await database.dispose()


async def test_migrations_build_exactly_the_schema_the_models_describe(database_url: str) -> None:
    """A table, column or index added to ``storage.models`` without its Alembic migration fails here."""
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
            )
    finally:
        await database.dispose()
    assert differences == []

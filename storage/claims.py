"""Durable work queues: rows with a due time and an expiring lock, claimed by any worker process.

A claim sets ``locked_until``; a worker that crashes simply lets its locks expire, and the rows become
claimable again (Takahē's Stator idea). On PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED`` so
concurrent workers never take the same row; on SQLite the claiming transaction holds the single write
lock (``BEGIN IMMEDIATE``), which gives the same guarantee.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from storage.db import Database
from storage.types import utcnow

log = logging.getLogger(__name__)

Row = TypeVar("Row", bound=SQLModel)


async def claim_due(
    session: AsyncSession,
    model: type[Row],
    *,
    limit: int,
    lock_for: timedelta,
    ready_state: str = "queued",
    now: datetime | None = None,
    extra_where: Sequence[Any] = (),
) -> list[Row]:
    """Lock and return up to ``limit`` rows of ``model`` that are due, oldest first.

    ``model`` needs ``id``, ``state``, ``next_attempt_at`` and ``locked_until`` columns. Call inside a
    write transaction (``Database.transaction()``); the lock holds after it commits.
    """
    return await session.run_sync(
        claim_due_in,
        model,
        limit=limit,
        lock_for=lock_for,
        ready_state=ready_state,
        now=now,
        extra_where=extra_where,
    )


def claim_due_in(
    session: Session,
    model: type[Row],
    *,
    limit: int,
    lock_for: timedelta,
    ready_state: str = "queued",
    now: datetime | None = None,
    extra_where: Sequence[Any] = (),
) -> list[Row]:
    """``claim_due`` in a unit of work (``Database.write``)."""
    now = now or utcnow()
    table: Any = model
    due = (
        select(table.id)
        .where(
            table.state == ready_state,
            table.next_attempt_at <= now,
            or_(table.locked_until.is_(None), table.locked_until < now),
            *extra_where,
        )
        .order_by(table.next_attempt_at, table.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = (
        update(table)
        .where(table.id.in_(due.scalar_subquery()))
        .values(locked_until=now + lock_for)
        .returning(table)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(select(table).from_statement(claimed)).scalars().all()
    return sorted(rows, key=lambda row: (row.next_attempt_at, row.id))


async def extend_claims(db: Database, model: type[SQLModel], ids: Collection[int], *, lock_for: timedelta) -> None:
    """Push the lock of rows this worker still holds further into the future."""
    if not ids:
        return
    table: Any = model
    async with db.transaction() as session:
        await session.execute(update(table).where(table.id.in_(list(ids))).values(locked_until=utcnow() + lock_for))


@asynccontextmanager
async def holding_claims(
    db: Database, model: type[SQLModel], ids: Collection[int], *, lock_for: timedelta
) -> AsyncIterator[None]:
    """Keep renewing the claims on ``ids`` while the block runs (``ids`` may shrink meanwhile: rows
    already finished need no renewal).

    Locks can then be short, so rows a crashed worker held become claimable again within ``lock_for``,
    while a healthy worker that needs longer than that keeps them.
    """
    interval = lock_for.total_seconds() / 3

    async def renew() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await extend_claims(db, model, ids, lock_for=lock_for)
            except Exception as error:  # a missed renewal only risks a duplicate, never a loss
                log.warning("could not renew %d claims on %s: %s", len(ids), model.__name__, error)

    task = asyncio.create_task(renew())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

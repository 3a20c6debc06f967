"""Durable work queues: rows with a due time and an expiring lock, claimed by any worker process.

A claim sets ``locked_until``; a worker that crashes simply lets its locks expire, and the rows become
claimable again (Takahē's Stator idea). On PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED`` so
concurrent workers never take the same row; on SQLite the claiming transaction holds the single write
lock (``BEGIN IMMEDIATE``), which gives the same guarantee.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from storage.types import utcnow

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
    rows = (await session.execute(select(table).from_statement(claimed))).scalars().all()
    return sorted(rows, key=lambda row: (row.next_attempt_at, row.id))

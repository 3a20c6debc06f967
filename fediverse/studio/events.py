"""The event log of a generation job: one ``JobEvent`` row per event, ``seq`` doubling as the SSE id.

Every writer changes the job row in the same transaction before it appends, so the row lock (PostgreSQL)
or the write lock (SQLite) serialises writers and ``max(seq) + 1`` never collides.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import Database
from storage.models import JobEvent

QUEUED, STARTED, PROGRESS = "queued", "started", "progress"
COMPLETED, FAILED, CANCELLED = "completed", "failed", "cancelled"
TERMINAL_EVENTS = frozenset({COMPLETED, FAILED, CANCELLED})


async def append_event(session: AsyncSession, job_id: int, event: str, data: dict[str, Any]) -> JobEvent:
    """Add the job's next event; call after updating the job row in the same write transaction."""
    last = await session.scalar(select(func.max(col(JobEvent.seq))).where(col(JobEvent.job_id) == job_id))
    row = JobEvent(job_id=job_id, seq=(last or 0) + 1, event=event, data=data)
    session.add(row)
    await session.flush()
    return row


async def read_events(db: Database, job_id: int, after: int = 0) -> list[JobEvent]:
    async with db.session() as session:
        rows = await session.scalars(
            select(JobEvent)
            .where(col(JobEvent.job_id) == job_id, col(JobEvent.seq) > after)
            .order_by(col(JobEvent.seq))
        )
        return list(rows)


async def last_event_seq(db: Database, job_id: int) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.max(col(JobEvent.seq))).where(col(JobEvent.job_id) == job_id)) or 0

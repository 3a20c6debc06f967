"""The instance's health in numbers, collected in one place for ``/healthz``, ``/metrics``, the admin
Health page and ``reverie status`` (docs/decisions/0055).

Two levels:

- ``check_liveness``: is the database answering (a trivial query under a short timeout) and is its schema
  this version's (the Alembic revision it records is the head of our migrations)? Cheap, for load
  balancers and watchdogs that ask every few seconds.
- ``collect_health``: that, plus each work queue's backlog and oldest due item, the hosts deliveries keep
  failing to reach, and the disk the media folder takes. A few aggregate queries on indexed columns
  (``state, next_attempt_at``), and a walk of the media folder at most once a minute per process.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import Database, alembic_config
from storage.db import head_revision as shipped_head_revision
from storage.models import Delivery, GenerationJob, HostHealth, InboxItem, JobState, RemoteFetch, WorkState
from storage.types import utcnow

#: How long the database may take to answer the liveness query before it counts as unreachable.
LIVENESS_TIMEOUT_SECONDS = 2.0
#: Failing hosts listed (the worst first); the total is counted separately.
FAILING_HOSTS_SHOWN = 10
#: How long one walk of the media folder is reused.
MEDIA_USAGE_MAX_AGE_SECONDS = 60.0

#: The work queues: (name as the worker and the metrics call it, name for people, table).
QUEUES: tuple[tuple[str, str, Any], ...] = (
    ("inbox", "Inbox", InboxItem),
    ("deliveries", "Deliveries", Delivery),
    ("fetches", "Thread fetches", RemoteFetch),
    ("generation", "Generation", GenerationJob),
)


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


@dataclass(frozen=True)
class Liveness:
    database: Check
    migrations: Check
    #: The revision the database records (``None`` when it has no schema or did not answer).
    revision: str | None
    #: The newest revision this version of Reverie ships.
    head: str

    @property
    def ok(self) -> bool:
        return self.database.ok and self.migrations.ok

    def as_json(self) -> dict[str, Any]:
        """What ``/healthz`` answers: each check's verdict, nothing about where the database is."""
        return {
            "status": "ok" if self.ok else "failing",
            "checks": {
                "process": {"ok": True, "detail": "answering"},
                "database": {"ok": self.database.ok, "detail": self.database.detail},
                "migrations": {
                    "ok": self.migrations.ok,
                    "detail": self.migrations.detail,
                    "revision": self.revision,
                    "head": self.head,
                },
            },
            "failed": [
                name for name, check in (("database", self.database), ("migrations", self.migrations)) if not check.ok
            ],
        }


@dataclass(frozen=True)
class QueueState:
    name: str
    title: str
    #: Rows still to do: due now, scheduled for a retry, or being worked on.
    waiting: int
    #: Rows due now that no worker has claimed.
    due: int
    #: Rows a worker holds now (generation: jobs running).
    in_progress: int
    #: How long the oldest due, unclaimed row has been due, in seconds.
    oldest_due_seconds: float | None


@dataclass(frozen=True)
class FailingHost:
    host: str
    consecutive_failures: int
    failing_since: datetime | None
    backoff_until: datetime | None


@dataclass(frozen=True)
class MediaUsage:
    bytes: int
    files: int


@dataclass(frozen=True)
class HealthReport:
    liveness: Liveness
    checked_at: datetime
    queues: Sequence[QueueState] = ()
    failing_hosts: Sequence[FailingHost] = ()
    failing_hosts_total: int = 0
    media: MediaUsage = field(default_factory=lambda: MediaUsage(0, 0))

    @property
    def ok(self) -> bool:
        return self.liveness.ok


@functools.cache
def head_revision() -> str:
    """The newest migration this version ships (read from the migration scripts once per process)."""
    head = shipped_head_revision()
    if head is None:  # the scripts' text does not say plainly (several heads, a merge): Alembic decides
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


async def check_liveness(db: Database, *, timeout: float = LIVENESS_TIMEOUT_SECONDS) -> Liveness:
    """Whether the database answers within ``timeout`` and records this version's schema."""
    head = head_revision()
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            async with db.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            revision = await db.current_revision()
    except TimeoutError:
        unreachable = Check(False, f"no answer within {timeout:g} s")
    except Exception as error:  # whatever the driver raises, the verdict is the same; the message may name hosts
        unreachable = Check(False, f"unreachable ({type(error).__name__})")
    else:
        elapsed = (time.perf_counter() - started) * 1000
        return Liveness(
            database=Check(True, f"answered in {elapsed:.1f} ms"),
            migrations=_judge_revision(revision, head),
            revision=revision,
            head=head,
        )
    return Liveness(unreachable, Check(False, "unknown: the database did not answer"), None, head)


def _judge_revision(revision: str | None, head: str) -> Check:
    if revision == head:
        return Check(True, f"at {head}, the newest")
    if revision is None:
        return Check(False, f"the database has no schema; run `reverie migrate` (this version needs {head})")
    return Check(False, f"the database is at {revision}, this version needs {head}; run `reverie migrate`")


async def collect_health(
    db: Database,
    media_dir: Path,
    *,
    now: datetime | None = None,
    hosts_shown: int = FAILING_HOSTS_SHOWN,
    media_max_age: float = MEDIA_USAGE_MAX_AGE_SECONDS,
) -> HealthReport:
    """Everything an admin looks at to see whether the instance keeps up (see the module's text). The media
    folder's walk may be ``media_max_age`` seconds old (``/metrics``); a person asking gets a fresh one."""
    liveness = await check_liveness(db)
    now = now or utcnow()
    if not liveness.database.ok:
        return HealthReport(
            liveness=liveness, checked_at=now, media=await media_usage(media_dir, max_age=media_max_age)
        )
    async with db.session() as session:
        queues = [await _queue_state(session, name, title, table, now) for name, title, table in QUEUES]
        failing_total = await session.scalar(
            select(func.count()).select_from(HostHealth).where(col(HostHealth.consecutive_failures) > 0)
        )
        hosts = await session.scalars(
            select(HostHealth)
            .where(col(HostHealth.consecutive_failures) > 0)
            .order_by(col(HostHealth.consecutive_failures).desc(), col(HostHealth.host))
            .limit(hosts_shown)
        )
        failing = [
            FailingHost(host.host, host.consecutive_failures, host.first_failure_at, host.backoff_until)
            for host in hosts
        ]
    return HealthReport(
        liveness=liveness,
        checked_at=now,
        queues=queues,
        failing_hosts=failing,
        failing_hosts_total=failing_total or 0,
        media=await media_usage(media_dir, max_age=media_max_age),
    )


async def _queue_state(session: AsyncSession, name: str, title: str, table: Any, now: datetime) -> QueueState:
    queued_state = JobState.QUEUED if table is GenerationJob else WorkState.QUEUED
    next_attempt_at, locked_until = col(table.next_attempt_at), col(table.locked_until)
    claimed = locked_until > now
    due = and_(next_attempt_at <= now, or_(locked_until.is_(None), locked_until <= now))
    waiting, due_count, oldest_due, held = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((due, 1), else_=0)), 0),
                func.min(case((due, next_attempt_at))),
                func.coalesce(func.sum(case((claimed, 1), else_=0)), 0),
            ).where(col(table.state) == queued_state)
        )
    ).one()
    if table is GenerationJob:
        held = await session.scalar(
            select(func.count()).select_from(GenerationJob).where(col(GenerationJob.state) == JobState.RUNNING)
        )
        waiting += held or 0
    age = max(0.0, (now - oldest_due).total_seconds()) if oldest_due is not None else None
    return QueueState(name, title, int(waiting), int(due_count), int(held or 0), age)


_media_usage_cache: dict[Path, tuple[float, MediaUsage]] = {}


async def media_usage(media_dir: Path, *, max_age: float = MEDIA_USAGE_MAX_AGE_SECONDS) -> MediaUsage:
    """Bytes and files under ``media_dir`` (walked in a thread; reused for ``max_age`` seconds)."""
    cached = _media_usage_cache.get(media_dir)
    if cached is not None and time.monotonic() - cached[0] < max_age:
        return cached[1]
    usage = await asyncio.to_thread(_walk, media_dir)
    _media_usage_cache[media_dir] = (time.monotonic(), usage)
    return usage


def _walk(folder: Path) -> MediaUsage:
    total = files = 0
    for root, _folders, names in os.walk(folder):
        for name in names:
            try:
                total += os.stat(os.path.join(root, name), follow_symlinks=False).st_size
            except OSError:  # removed meanwhile
                continue
            files += 1
    return MediaUsage(total, files)


def describe_age(seconds: float | None) -> str:
    """``None`` → ``-``; else the largest two units: ``45s``, ``4m 10s``, ``3h 5m``, ``2d 4h``."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def describe_bytes(size: int) -> str:
    """``512 B``, ``1.5 KB``, ``12.3 MB``, ``4.0 GB`` (powers of 1000)."""
    amount = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if amount < 1000 or unit == "TB":
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    raise AssertionError("unreachable")

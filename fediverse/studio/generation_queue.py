"""The worker queue of generation jobs: recover abandoned jobs, claim queued ones up to the concurrency
limit, and run them as tasks.

``run_once`` starts what fits, then waits (briefly) for running jobs; it returns nonzero while any job
is still running, so ``Worker.drain()`` waits for them and a worker loop keeps polling without idling.
``aclose`` (at shutdown) cancels what still runs: those jobs fail with a message to try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlmodel import col

from fediverse.services import Services
from fediverse.studio.events import FAILED, append_event
from fediverse.studio.execution import INTERRUPTED, execute_job
from fediverse.studio.submission import LEASE, QUEUE_NAME
from storage.claims import claim_due
from storage.columns import key_col
from storage.models import GenerationJob, JobState
from storage.types import utcnow

log = logging.getLogger(__name__)

#: How long one ``run_once`` waits for a running job before returning to the worker loop.
WAIT_SECONDS = 1.0


class GenerationQueue:
    name = QUEUE_NAME

    def __init__(self, services: Services, *, concurrency: int | None = None) -> None:
        self.services = services
        self.concurrency = concurrency or services.studio.options.concurrency
        self.generator = services.studio.generator  # built now: a bad setting stops start-up
        self._running: set[asyncio.Task[object]] = set()

    async def run_once(self) -> int:
        recovered = started = 0
        free = self.concurrency - len(self._running)
        if await _work_waiting(self.services):  # a read first: idle passes take no write lock
            recovered = await recover_abandoned_jobs(self.services)
        else:
            free = 0
        if free > 0:
            async with self.services.db.transaction() as session:
                claimed = await claim_due(session, GenerationJob, limit=free, lock_for=LEASE)
            for job in claimed:
                assert job.id is not None
                self._running.add(asyncio.create_task(execute_job(self.services, job.id), name=f"generation-{job.id}"))
            started = len(claimed)
        if not self._running:
            return recovered
        done, _ = await asyncio.wait(self._running, timeout=WAIT_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            self._running.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.error("generation job task failed", exc_info=task.exception())
        return recovered + started + len(done) + len(self._running)

    async def aclose(self) -> None:
        for task in self._running:
            task.cancel()
        for task in list(self._running):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._running.clear()


async def _work_waiting(services: Services) -> bool:
    """Whether a job is queued and unclaimed, or running on a lapsed lease."""
    now = utcnow()
    job = GenerationJob
    async with services.db.session() as session:
        found = await session.scalar(
            select(col(job.id))
            .where(
                or_(
                    and_(
                        col(job.state) == JobState.QUEUED,
                        or_(col(job.locked_until).is_(None), col(job.locked_until) < now),
                    ),
                    and_(col(job.state) == JobState.RUNNING, col(job.locked_until) < now),
                )
            )
            .limit(1)
        )
    return found is not None


async def recover_abandoned_jobs(services: Services, *, now: datetime | None = None) -> int:
    """Fail jobs still marked running whose lease lapsed (by ``now``): their worker crashed or was killed."""
    now = now or utcnow()
    async with services.db.transaction() as session:
        lost = list(
            await session.scalars(
                update(GenerationJob)
                .where(col(GenerationJob.state) == JobState.RUNNING, col(GenerationJob.locked_until) < now)
                .values(state=JobState.FAILED, error=INTERRUPTED, finished_at=now, locked_until=None)
                .returning(key_col(GenerationJob.id))
            )
        )
        for job_id in lost:
            await append_event(session, job_id, FAILED, {"error": INTERRUPTED})
    if lost:
        log.warning("failed %d generation jobs left running by a stopped worker: %s", len(lost), lost)
    return len(lost)

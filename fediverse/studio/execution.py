"""Running one generation job: start it, paint off the event loop, report progress at a bounded rate,
honour cancel requests and the timeout, and finish with draft media or an error a person can read.

Progress arrives from the painting thread as often as the backend likes (a diffusers step, a painter
layer); at most one ``progress`` event is written per ``PROGRESS_INTERVAL``, always the newest. The same
loop renews the job's lease (a worker that dies lets it lapse, and recovery fails the job) and reads
``cancel_requested``, which the web app sets from any process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core.media_files import forget_files, keys_of
from fediverse.core.metrics import GENERATION_DURATION, GENERATION_JOBS
from fediverse.generation import (
    CancelToken,
    GenerationCancelled,
    GenerationError,
    GenerationRequest,
    Progress,
    progress_on_loop,
)
from fediverse.imaging import ImageRejected
from fediverse.services import Services
from fediverse.studio.drafts import create_generated_media, media_json
from fediverse.studio.events import CANCELLED, COMPLETED, FAILED, PROGRESS, STARTED, append_event
from fediverse.studio.submission import LEASE
from storage.db import Database
from storage.models import GenerationJob, JobState, Media
from storage.types import utcnow

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.5  # seconds between progress rows of one job
CANCEL_POLL = 0.5  # seconds between looks at cancel_requested
HEARTBEAT = 10.0  # seconds between lease renewals when no progress is written
INTERRUPTED = "Painting was interrupted (the server or command running it stopped); please try again."

ProgressListener = Callable[[Progress], None]


@dataclass
class Outcome:
    state: JobState
    error: str | None = None
    media: list[Media] = field(default_factory=list)


async def execute_job(services: Services, job_id: int, *, listener: ProgressListener | None = None) -> JobState | None:
    """Run a queued job to its end; None when it was no longer queued (cancelled, or taken by another)."""
    job = await _start(services.db, job_id)
    if job is None:
        return None
    started = time.perf_counter()
    token = CancelToken()
    reporter = _Reporter(services.db, job_id, token, listener)
    watcher = asyncio.create_task(reporter.run(), name=f"generation-{job_id}-progress")
    try:
        outcome = await _paint(services, job, reporter, token)
    except asyncio.CancelledError:  # the worker is shutting down
        token.cancel()
        await reporter.stop(watcher)
        await _finish(services, job_id, Outcome(JobState.FAILED, INTERRUPTED))
        _count(job, JobState.FAILED, started)
        raise
    await reporter.stop(watcher)
    await _finish(services, job_id, outcome)
    _count(job, outcome.state, started)
    return outcome.state


def _count(job: GenerationJob, state: JobState, started: float) -> None:
    """One log line and the metrics for a job that ended."""
    elapsed = time.perf_counter() - started
    GENERATION_JOBS.labels(state.value).inc()
    GENERATION_DURATION.labels(state.value).observe(elapsed)
    log.info(
        "generation: job %s %s in %.1fms (%s)",
        job.id,
        state.value,
        elapsed * 1000,
        job.backend,
        extra={"queue": "generation", "job": job.id, "state": state.value, "ms": round(elapsed * 1000, 1)},
    )


async def _paint(services: Services, job: GenerationJob, reporter: _Reporter, token: CancelToken) -> Outcome:
    studio = services.studio
    timeout = studio.options.timeout
    request = GenerationRequest(**job.request)
    try:
        images = await asyncio.wait_for(
            studio.generator.generate(request, progress=progress_on_loop(reporter.report), cancel=token), timeout
        )
        reporter.report_postprocess()
        return Outcome(JobState.SUCCEEDED, media=await create_generated_media(services, job, images))
    except GenerationCancelled:
        return Outcome(JobState.CANCELLED)
    except TimeoutError:
        token.cancel()  # the painting thread stops at its next checkpoint
        return Outcome(JobState.FAILED, f"Painting took too long (the limit is {timeout:g} s), so it was stopped.")
    except GenerationError as error:
        log.info("generation job %s failed: %s", job.id, error.detail)
        return Outcome(JobState.FAILED, str(error))
    except ImageRejected as error:
        log.warning("generation job %s: the backend's image was unusable: %s", job.id, error.detail)
        return Outcome(JobState.FAILED, "The generator returned an image that could not be read.")
    except Exception:
        log.exception("generation job %s crashed", job.id)
        return Outcome(JobState.FAILED, "Something went wrong while painting; please try again.")


async def _start(db: Database, job_id: int) -> GenerationJob | None:
    now = utcnow()
    async with db.transaction() as session:
        started = await session.scalar(
            update(GenerationJob)
            .where(col(GenerationJob.id) == job_id, col(GenerationJob.state) == JobState.QUEUED)
            .values(
                state=JobState.RUNNING,
                started_at=now,
                locked_until=now + LEASE,
                attempts=GenerationJob.attempts + 1,
            )
            .returning(col(GenerationJob.id))
        )
        if started is None:
            return None
        await append_event(session, job_id, STARTED, {})
        return await session.get(GenerationJob, job_id, populate_existing=True)


async def _finish(services: Services, job_id: int, outcome: Outcome) -> None:
    async with services.db.transaction() as session:
        job = await session.get(GenerationJob, job_id, with_for_update=True, populate_existing=True)
        recorded = job is not None and job.state == JobState.RUNNING
        if job is not None and recorded:
            await _record_outcome(session, services, job, outcome)
    if not recorded:  # recovery failed the job meanwhile (our lease lapsed): nobody will see these images
        await forget_files(services.db, services.media, {key for item in outcome.media for key in keys_of(item)})


async def _record_outcome(session: AsyncSession, services: Services, job: GenerationJob, outcome: Outcome) -> None:
    job_id = job.id or 0
    job.state, job.error, job.finished_at, job.locked_until = outcome.state, outcome.error, utcnow(), None
    if outcome.state == JobState.SUCCEEDED:
        job.progress_step = job.progress_total = max(job.progress_total, 1)
        session.add_all(outcome.media)
        await session.flush()
        media = [media_json(item, services.urls) for item in outcome.media]
        await append_event(session, job_id, COMPLETED, {"media": media})
    elif outcome.state == JobState.CANCELLED:
        await append_event(session, job_id, CANCELLED, {})
    else:
        await append_event(session, job_id, FAILED, {"error": outcome.error})


class _Reporter:
    """Gathers progress on the loop and writes the newest at a bounded rate; renews the lease; watches for
    a cancel request."""

    def __init__(self, db: Database, job_id: int, token: CancelToken, listener: ProgressListener | None) -> None:
        self.db = db
        self.job_id = job_id
        self.token = token
        self.listener = listener
        self.latest: Progress | None = None
        self.written: Progress | None = None
        self.stopping = False
        self.changed = asyncio.Event()

    def report(self, event: Progress) -> None:
        self.latest = event
        self.changed.set()
        if self.listener is not None:
            self.listener(event)

    def report_postprocess(self) -> None:
        total = self.latest.total if self.latest is not None else 1
        self.report(Progress(total, total, "postprocess"))

    async def stop(self, watcher: asyncio.Task[None]) -> None:
        """Write what is still pending, then end the loop."""
        self.stopping = True
        self.changed.set()
        await watcher

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        last_write = last_beat = loop.time()
        last_write -= PROGRESS_INTERVAL  # the first progress is written at once
        while True:
            now = loop.time()
            pending = self.latest is not None and self.latest != self.written
            if self.stopping and not pending:
                return
            try:
                if pending and (self.stopping or now - last_write >= PROGRESS_INTERVAL):
                    cancel = await self._write(self.latest)
                    last_write = last_beat = now
                elif now - last_beat >= HEARTBEAT:
                    cancel = await self._renew()
                    last_beat = now
                else:
                    cancel = await self._cancel_requested()
            except Exception:  # a database hiccup must not stop the job; try again next round
                log.warning("could not record progress of generation job %s", self.job_id, exc_info=True)
                cancel = False
            if cancel:
                self.token.cancel()
            if self.stopping:
                continue
            waiting = self.latest is not None and self.latest != self.written
            timeout = max(0.0, PROGRESS_INTERVAL - (loop.time() - last_write)) if waiting else CANCEL_POLL
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(timeout, CANCEL_POLL))

    async def _write(self, event: Progress | None) -> bool:
        assert event is not None
        self.written = event
        data: dict[str, Any] = {"step": event.step, "total": event.total, "stage": event.stage}
        async with self.db.transaction() as session:
            cancel = await session.scalar(
                self._still_running()
                .values(progress_step=event.step, progress_total=event.total, locked_until=utcnow() + LEASE)
                .returning(GenerationJob.cancel_requested)
            )
            if cancel is not None:
                await append_event(session, self.job_id, PROGRESS, data)
        return bool(cancel)

    async def _renew(self) -> bool:
        async with self.db.transaction() as session:
            cancel = await session.scalar(
                self._still_running().values(locked_until=utcnow() + LEASE).returning(GenerationJob.cancel_requested)
            )
        return bool(cancel)

    async def _cancel_requested(self) -> bool:
        async with self.db.session() as session:
            return bool(
                await session.scalar(
                    select(col(GenerationJob.cancel_requested)).where(col(GenerationJob.id) == self.job_id)
                )
            )

    def _still_running(self) -> Any:
        return update(GenerationJob).where(
            col(GenerationJob.id) == self.job_id, col(GenerationJob.state) == JobState.RUNNING
        )

"""The worker queue of account jobs (imports, archives, purges of deleted accounts), and asking for an archive.

A job is claimed like every work row (``storage.claims``) and its lease renewed while it runs, so a crashed
worker's job is taken up again by another once the lease lapses; each kind carries on from what its rows
say (an import's queued rows, a purge's standing posts; an archive starts over). An import runs one step
per claim, so several imports share the worker and their progress shows as it goes; an archive or a purge
runs to its end. A job that fails unexpectedly is tried again later, ``MAX_ATTEMPTS`` times in all.

Finished archives are kept ``ARCHIVE_LIFETIME``, then their files are deleted (a newer archive of the same
account replaces the older at once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlmodel import col

from fediverse.core.errors import Conflict, NotFound
from fediverse.portability.archives import archives_folder, new_archive_name, write_archive
from fediverse.portability.deletion import purge_account
from fediverse.portability.imports import finish_job, run_import_step
from fediverse.services import Services
from storage.claims import claim_due, holding_claims
from storage.db import Database
from storage.models import Account, AccountJob, AccountJobKind, JobState
from storage.types import utcnow

log = logging.getLogger(__name__)

QUEUE_NAME = "account-jobs"
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 3
RETRY_DELAY = timedelta(minutes=5)
ARCHIVE_LIFETIME = timedelta(days=7)
#: How often the worker looks for expired archives.
EXPIRY_INTERVAL_SECONDS = 600


async def request_archive(services: Services, username: str) -> AccountJob:
    """Queue an archive of ``username``'s posts; ``Conflict`` while one is already being made."""
    async with services.db.transaction() as session:
        account = await session.scalar(select(Account).where(col(Account.username) == username))
        if account is None or account.disabled_at is not None:
            raise NotFound(f"No local account named {username!r}.")
        waiting = await session.scalar(
            select(col(AccountJob.id)).where(
                col(AccountJob.account_id) == account.id,
                col(AccountJob.kind) == AccountJobKind.ARCHIVE,
                col(AccountJob.state) == JobState.QUEUED,
            )
        )
        if waiting is not None:
            raise Conflict("An archive is already being made; it will be listed here once ready.")
        job = AccountJob(account_id=account.id or 0, kind=AccountJobKind.ARCHIVE)
        session.add(job)
    services.wake_worker(QUEUE_NAME)
    return job


class AccountJobQueue:
    name = QUEUE_NAME

    def __init__(self, services: Services, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.services = services
        self._clock = clock
        self._expiry_due_at = clock()

    async def run_once(self) -> int:
        expired = await self._expire_when_due()
        if not await _work_waiting(self.services.db):  # a read first: idle passes take no write lock
            return expired
        async with self.services.db.transaction() as session:
            claimed = await claim_due(session, AccountJob, limit=1, lock_for=LEASE)
            for job in claimed:
                job.started_at = job.started_at or utcnow()
        if not claimed:
            return expired
        job = claimed[0]
        assert job.id is not None
        try:
            async with holding_claims(self.services.db, AccountJob, {job.id}, lock_for=LEASE):
                await self.run_job(job)
        except Exception as error:
            log.exception("account job %s (%s) failed", job.id, job.kind)
            await _record_failure(self.services.db, job, f"{type(error).__name__}: {error}"[:500])
            return 1
        await _release(self.services.db, job.id)
        return 1

    async def run_job(self, job: AccountJob) -> None:
        """One turn of a job: a step of an import, a whole archive or purge."""
        assert job.id is not None
        if job.kind == AccountJobKind.IMPORT:
            await run_import_step(self.services, job.id)
        elif job.kind == AccountJobKind.ARCHIVE:
            await build_archive(self.services, job)
        elif job.kind == AccountJobKind.DELETION:
            await purge_account(self.services, job.account_id)
            await finish_job(self.services.db, job.id)
        else:
            await finish_job(self.services.db, job.id, failed=f"unknown kind of job {job.kind!r}")

    async def _expire_when_due(self) -> int:
        now = self._clock()
        if now < self._expiry_due_at:
            return 0
        self._expiry_due_at = now + EXPIRY_INTERVAL_SECONDS
        return await expire_archives(self.services)


async def build_archive(services: Services, job: AccountJob) -> None:
    """Write the archive of the job's account, then record it and delete the account's older archives."""
    assert job.id is not None
    async with services.db.session() as session:
        account = await session.get(Account, job.account_id)
    if account is None or account.disabled_at is not None:
        await finish_job(services.db, job.id, failed="The account was suspended or deleted.")
        return
    name = new_archive_name(account.username)
    folder = archives_folder(services.settings.data_dir)
    summary = await write_archive(services, account.username, folder / name)
    async with services.db.transaction() as session:
        older = list(
            await session.scalars(
                select(AccountJob).where(
                    col(AccountJob.account_id) == job.account_id,
                    col(AccountJob.kind) == AccountJobKind.ARCHIVE,
                    col(AccountJob.state) == JobState.SUCCEEDED,
                    col(AccountJob.filename).is_not(None),
                )
            )
        )
        for previous in older:
            (folder / (previous.filename or "")).unlink(missing_ok=True)
            previous.filename = None
        await session.execute(
            update(AccountJob)
            .where(col(AccountJob.id) == job.id)
            .values(
                state=JobState.SUCCEEDED,
                filename=name,
                size_bytes=summary.size_bytes,
                total_items=summary.posts + summary.boosts,
                processed_items=summary.posts + summary.boosts,
                imported_items=summary.media_files,
                finished_at=utcnow(),
                locked_until=None,
            )
        )


async def _work_waiting(db: Database) -> bool:
    """Whether a job is due and not held by a live lease."""
    now = utcnow()
    async with db.session() as session:
        found = await session.scalar(
            select(col(AccountJob.id))
            .where(
                col(AccountJob.state) == JobState.QUEUED,
                col(AccountJob.next_attempt_at) <= now,
                or_(col(AccountJob.locked_until).is_(None), col(AccountJob.locked_until) < now),
            )
            .limit(1)
        )
    return found is not None


async def expire_archives(services: Services) -> int:
    """Delete the files of archives older than ``ARCHIVE_LIFETIME``; how many went."""
    folder = archives_folder(services.settings.data_dir)
    expired = (
        col(AccountJob.kind) == AccountJobKind.ARCHIVE,
        col(AccountJob.filename).is_not(None),
        col(AccountJob.finished_at) < utcnow() - ARCHIVE_LIFETIME,
    )
    async with services.db.session() as session:
        if await session.scalar(select(col(AccountJob.id)).where(*expired).limit(1)) is None:
            return 0
    async with services.db.transaction() as session:
        old = list(await session.scalars(select(AccountJob).where(*expired)))
        for job in old:
            (folder / (job.filename or "")).unlink(missing_ok=True)
            job.filename = None
    return len(old)


async def _release(db: Database, job_id: int) -> None:
    """Let the next pass (of any worker) take the job up again, if it is not finished: behind the other jobs
    due, so several imports take turns."""
    async with db.transaction() as session:
        await session.execute(
            update(AccountJob)
            .where(col(AccountJob.id) == job_id, col(AccountJob.state) == JobState.QUEUED)
            .values(locked_until=None, next_attempt_at=utcnow())
        )


async def _record_failure(db: Database, job: AccountJob, error: str) -> None:
    attempts = job.attempts + 1
    values: dict[str, object] = {"attempts": attempts, "error": error, "locked_until": None}
    if attempts >= MAX_ATTEMPTS:
        values.update(state=JobState.FAILED, finished_at=utcnow())
    else:
        values["next_attempt_at"] = utcnow() + RETRY_DELAY
    async with db.transaction() as session:
        await session.execute(update(AccountJob).where(col(AccountJob.id) == job.id).values(**values))


async def run_here(services: Services, job_id: int, on_step: Callable[[AccountJob], None] | None = None) -> AccountJob:
    """Run one job to its end in this process (``reverie import``, ``reverie account delete``): claimed like
    the worker claims it, so a worker elsewhere leaves it alone meanwhile; if a worker holds it already, wait
    for that worker to finish it."""
    db = services.db
    while True:
        async with db.transaction() as session:
            now = utcnow()
            claimed = (
                await session.execute(
                    update(AccountJob)
                    .where(
                        col(AccountJob.id) == job_id,
                        col(AccountJob.state) == JobState.QUEUED,
                        or_(col(AccountJob.locked_until).is_(None), col(AccountJob.locked_until) < now),
                    )
                    .values(locked_until=now + LEASE, started_at=func.coalesce(col(AccountJob.started_at), now))
                    .returning(col(AccountJob.id))
                )
            ).first()
        job = await _job(db, job_id)
        if job.state != JobState.QUEUED:
            return job
        if claimed is None:  # a worker has it: look again shortly
            await asyncio.sleep(1)
            continue
        async with holding_claims(db, AccountJob, {job_id}, lock_for=LEASE):
            queue = AccountJobQueue(services)
            while job.state == JobState.QUEUED:
                await queue.run_job(job)
                job = await _job(db, job_id)
                if on_step is not None:
                    on_step(job)
        return job


async def _job(db: Database, job_id: int) -> AccountJob:
    async with db.session() as session:
        job = await session.get(AccountJob, job_id)
    if job is None:
        raise NotFound("No such job.")
    return job

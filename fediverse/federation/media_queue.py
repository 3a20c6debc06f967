"""The worker's queue of remote files to cache (``MediaFetch`` rows; ``media_cache`` does the work).

Claimed like thread fetches (``storage.claims.claim_due``); a claimed batch is fetched a few files at a
time, so one slow server does not hold up the rest, and decoding stays under the process's decode gate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

from fediverse.core.metrics import REMOTE_MEDIA_FETCHES, report_work
from fediverse.federation.media_cache import LOCK_FOR, attempt, record_attempts
from fediverse.services import Services
from storage.claims import claim_due
from storage.models import MediaFetch, WorkState

log = logging.getLogger(__name__)

BATCH_SIZE = 16
#: Files downloaded at the same time by one worker process.
FETCHES_AT_ONCE = 4


class RemoteMediaQueue:
    name = "media"

    def __init__(self, services: Services, *, batch_size: int = BATCH_SIZE) -> None:
        self.services = services
        self.batch_size = batch_size

    async def run_once(self) -> int:
        async with self.services.db.transaction() as session:
            rows = await claim_due(session, MediaFetch, limit=self.batch_size, lock_for=LOCK_FOR)
        if not rows:
            return 0
        started = time.perf_counter()
        slots = asyncio.Semaphore(FETCHES_AT_ONCE)

        async def one(row: MediaFetch) -> dict[str, Any]:
            async with slots:
                await self.services.yield_to_requests()
                return await attempt(self.services, row)

        changes = await asyncio.gather(*(one(row) for row in rows))
        await record_attempts(self.services, changes)
        counts = Counter(_OUTCOMES.get(change.get("state"), "retry") for change in changes)
        report_work(log, self.name, REMOTE_MEDIA_FETCHES, counts, len(changes), started)
        return len(rows)


#: An attempt's outcome by the state it leaves the row in (still queued: due again later).
_OUTCOMES: dict[object, str] = {WorkState.DONE: "done", WorkState.FAILED: "failed"}

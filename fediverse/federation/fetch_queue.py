"""The worker's queue of thread fetches (``RemoteFetch`` rows): missing parents and replies collections, and
the origin fetches that confirm forwarded activities (decision 0058).

Claimed like inbox items (``storage.claims.claim_due``); a network failure retries with backoff up to
``MAX_ATTEMPTS``, while a 404, a 410, a forged document, an unsafe address or a blocked domain ends the
row at once (``retries.is_final``), so a dead parent costs one request, not a retry storm.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from fediverse.core.metrics import THREAD_FETCHES, report_work
from fediverse.federation.inbox.context import IngestContext
from fediverse.federation.inbox.forwarded import confirm_deletion, fetch_forwarded
from fediverse.federation.retries import PERMANENT_ERRORS, TRANSIENT_ERRORS, attempt_change
from fediverse.federation.thread_fetches import fetch_ancestor, fetch_featured, fetch_quoted, fetch_replies
from fediverse.services import Services
from storage.claims import claim_due
from storage.models import FetchKind, RemoteFetch, WorkState
from storage.types import utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 20
#: Mastodon's ThreadResolveWorker and FetchRepliesWorker retry 3 times; a little more patience here.
MAX_ATTEMPTS = 5
LOCK_FOR = timedelta(minutes=5)


class ThreadFetchQueue:
    name = "fetches"

    def __init__(self, services: Services, *, batch_size: int = BATCH_SIZE) -> None:
        self.services = services
        self.batch_size = batch_size
        self.context = IngestContext(
            db=services.db, urls=services.urls, resolver=services.resolver, forget_key=services.keys.forget
        )

    async def run_once(self) -> int:
        async with self.services.db.transaction() as session:
            rows = await claim_due(session, RemoteFetch, limit=self.batch_size, lock_for=LOCK_FOR)
        started = time.perf_counter()
        changes = []
        for row in rows:
            await self.services.yield_to_requests()
            changes.append(_outcome(row, await self._run(row)))
        if changes:
            async with self.services.db.transaction() as session:
                await session.execute(update(RemoteFetch), changes)
            counts = Counter(_OUTCOMES.get(change.get("state"), "retry") for change in changes)
            report_work(log, self.name, THREAD_FETCHES, counts, len(changes), started)
        return len(rows)

    async def _run(self, row: RemoteFetch) -> BaseException | None:
        resolver = self.services.resolver
        try:
            if row.kind == FetchKind.NOTE:
                await fetch_ancestor(resolver, row.target_ap_id, row.depth)
            elif row.kind == FetchKind.QUOTE:
                await fetch_quoted(resolver, row.target_ap_id)
            elif row.kind == FetchKind.FEATURED:
                await fetch_featured(resolver, row.target_ap_id)
            elif row.kind == FetchKind.REPLIES:
                await fetch_replies(resolver, row.target_ap_id)
            elif row.kind == FetchKind.FORWARDED:
                await fetch_forwarded(self.context, row.target_ap_id)
            elif row.kind == FetchKind.DELETION:
                await confirm_deletion(self.context, row.target_ap_id)
        except (*PERMANENT_ERRORS, *TRANSIENT_ERRORS) as failure:
            return failure
        return None


#: An attempt's outcome by the state it leaves the row in (still queued: due again later).
_OUTCOMES: dict[object, str] = {WorkState.DONE: "done", WorkState.FAILED: "failed"}


def _outcome(row: RemoteFetch, error: BaseException | None) -> dict[str, Any]:
    change = attempt_change(
        row.id, row.attempts, error, max_attempts=MAX_ATTEMPTS, now=utcnow(), done_column="finished_at"
    )
    if change.get("state") == WorkState.FAILED:
        log.info("thread fetch of %s (%s) failed: %s", row.target_ap_id, row.kind, change["last_error"])
    return change

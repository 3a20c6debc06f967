"""The inbox worker: applies stored ``InboxItem``s through ``fediverse.federation.ingest``.

Items of one sender are applied in arrival order (a Delete must not overtake its Create); different
senders run concurrently. A network failure while applying (fetching an author, a boosted note) is
retried with backoff; an activity that can never apply is marked failed with the reason kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import timedelta

import httpx
from sqlalchemy import delete

from activitypub.delivery import compute_backoff
from activitypub.errors import ActivityPubError, FetchError, GoneError, InvalidDocumentError, UnsafeAddressError
from fediverse.errors import ReverieError
from fediverse.federation.ingest import HANDLERS, IngestContext
from fediverse.services import Services
from storage.db import UNAVAILABLE_ERRORS
from storage.models import InboxItem, WorkState
from storage.queue import claim_due
from storage.types import utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 200
CONCURRENT_SENDERS = 8
MAX_ATTEMPTS = 8
LOCK_FOR = timedelta(minutes=5)
#: Applied activities are kept this long (for inspection), then pruned.
KEEP_DONE_FOR = timedelta(days=7)

_PERMANENT = (InvalidDocumentError, UnsafeAddressError, GoneError, ReverieError, ValueError, KeyError, TypeError)
_TRANSIENT = (FetchError, ActivityPubError, httpx.HTTPError, OSError, TimeoutError, *UNAVAILABLE_ERRORS)


class InboxQueue:
    name = "inbox"

    def __init__(self, services: Services, *, batch_size: int = BATCH_SIZE) -> None:
        self.services = services
        self.batch_size = batch_size
        self.context = IngestContext(
            db=services.db, urls=services.urls, resolver=services.resolver, forget_key=services.keys.forget
        )
        self._passes = 0

    async def run_once(self) -> int:
        async with self.services.db.transaction() as session:
            items = await claim_due(session, InboxItem, limit=self.batch_size, lock_for=LOCK_FOR)
        if not items:
            await self._prune_now_and_then()
            return 0
        by_sender: defaultdict[str, list[InboxItem]] = defaultdict(list)
        for item in items:
            by_sender[item.actor_ap_id].append(item)
        limit = asyncio.Semaphore(CONCURRENT_SENDERS)

        async def apply_in_order(sender_items: list[InboxItem]) -> None:
            async with limit:
                for item in sender_items:
                    await self._apply(item)

        await asyncio.gather(*(apply_in_order(group) for group in by_sender.values()))
        self.services.wake_worker("deliveries")
        return len(items)

    async def _apply(self, item: InboxItem) -> None:
        handler = HANDLERS.get(item.type)
        error: BaseException | None = None
        try:
            if handler is not None:
                actor = await self.services.resolver.actor(item.actor_ap_id)
                await handler(self.context, actor, item.payload)
        except _PERMANENT as failure:
            error = failure
            permanent = True
        except _TRANSIENT as failure:
            error = failure
            # An object its own server says does not exist will not appear by asking again.
            permanent = isinstance(failure, FetchError) and failure.status == 404
        async with self.services.db.transaction() as session:
            row = await session.get(InboxItem, item.id)
            if row is None:
                return
            row.attempts += 1
            row.locked_until = None
            if error is None:
                row.state = WorkState.DONE
                row.processed_at = utcnow()
                return
            row.last_error = f"{type(error).__name__}: {error}"[:2000]
            if permanent or row.attempts >= MAX_ATTEMPTS:
                row.state = WorkState.FAILED
                log.info("inbox item %s (%s) failed: %s", item.activity_ap_id, item.type, row.last_error)
            else:
                row.next_attempt_at = utcnow() + compute_backoff(row.attempts)

    async def _prune_now_and_then(self) -> None:
        self._passes += 1
        if self._passes % 600 != 1:
            return
        async with self.services.db.transaction() as session:
            await session.execute(
                delete(InboxItem).where(
                    InboxItem.state == WorkState.DONE, InboxItem.processed_at < utcnow() - KEEP_DONE_FOR
                )
            )

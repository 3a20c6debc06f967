"""The inbox worker: applies stored ``InboxItem``s through ``fediverse.federation.inbox.handlers``.

Items of one sender are applied in arrival order (a Delete must not overtake its Create); different
senders run concurrently. A network failure while applying (fetching an author, a boosted note) is
retried with backoff; an activity that can never apply is marked failed with the reason kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from fediverse.core.metrics import INBOX_PROCESSED
from fediverse.federation.inbox.handlers import HANDLERS, IngestContext
from fediverse.federation.retries import PERMANENT_ERRORS, TRANSIENT_ERRORS, attempt_change
from fediverse.services import Services
from storage.claims import claim_due
from storage.models import InboxItem, WorkState
from storage.types import utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 200
CONCURRENT_SENDERS = 8
MAX_ATTEMPTS = 8
LOCK_FOR = timedelta(minutes=5)


class InboxQueue:
    name = "inbox"

    def __init__(self, services: Services, *, batch_size: int = BATCH_SIZE) -> None:
        self.services = services
        self.batch_size = batch_size
        self.context = IngestContext(
            db=services.db, urls=services.urls, resolver=services.resolver, forget_key=services.keys.forget
        )

    async def run_once(self) -> int:
        async with self.services.db.transaction() as session:
            items = await claim_due(session, InboxItem, limit=self.batch_size, lock_for=LOCK_FOR)
        if not items:
            return 0
        started = time.perf_counter()
        by_sender: defaultdict[str, list[InboxItem]] = defaultdict(list)
        for item in items:
            by_sender[item.actor_ap_id].append(item)
        limit = asyncio.Semaphore(CONCURRENT_SENDERS)
        outcomes: list[tuple[InboxItem, BaseException | None]] = []

        async def apply_in_order(sender_items: list[InboxItem]) -> None:
            async with limit:
                for item in sender_items:
                    await self.services.yield_to_requests()
                    outcomes.append((item, await self._apply(item)))

        try:
            await asyncio.gather(*(apply_in_order(group) for group in by_sender.values()))
        finally:
            counts = await self._record(outcomes)
            log.info(
                "inbox: %d items in %.1fms %s",
                len(outcomes),
                (time.perf_counter() - started) * 1000,
                dict(counts),
                extra={"queue": self.name, "items": len(outcomes), "outcomes": dict(counts)},
            )
        self.services.wake_worker("deliveries")
        self.services.wake_worker("fetches")  # parents that replies in this batch lack
        return len(items)

    async def _apply(self, item: InboxItem) -> BaseException | None:
        """Run the item's handler: the failure, or ``None`` when it applied."""
        handler = HANDLERS.get(item.type)
        try:
            if handler is not None:
                actor = await self.services.resolver.actor(item.actor_ap_id)
                await handler(self.context, actor, item.payload)
        except (*PERMANENT_ERRORS, *TRANSIENT_ERRORS) as failure:
            return failure
        return None

    async def _record(self, outcomes: list[tuple[InboxItem, BaseException | None]]) -> Counter[str]:
        """Every outcome of a pass in one transaction (one per item took half the worker's write turns).
        A crash before this re-applies the pass's items once their claims expire; handlers are no-ops on
        repeats."""
        counts: Counter[str] = Counter()
        if not outcomes:
            return counts
        now = utcnow()
        changes: list[dict[str, Any]] = []
        for item, error in outcomes:
            change = attempt_change(
                item.id,
                item.attempts,
                error,
                max_attempts=MAX_ATTEMPTS,
                now=now,
                done_column="processed_at",
            )
            if change.get("state") == WorkState.FAILED:
                log.info("inbox item %s (%s) failed: %s", item.activity_ap_id, item.type, change["last_error"])
            counts[_OUTCOMES.get(change.get("state"), "retry")] += 1
            changes.append(change)
        async with self.services.db.transaction() as session:
            await session.execute(update(InboxItem), changes)
        for outcome, count in counts.items():
            INBOX_PROCESSED.labels(outcome).inc(count)
        return counts


#: An attempt's outcome by the state it leaves the row in (still queued: due again later).
_OUTCOMES: dict[object, str] = {WorkState.DONE: "applied", WorkState.FAILED: "failed"}

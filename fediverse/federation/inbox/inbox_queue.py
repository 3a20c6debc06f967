"""The inbox worker: applies stored ``InboxItem``s through ``fediverse.federation.inbox.handlers``.

A claimed batch is applied in one write transaction, each item in a savepoint of its own: an item that
can never apply rolls back alone and is marked failed with its reason, in the same transaction as the
others' effects and their "done" marks. What the items look up alike is looked up once per batch (the
senders, which notes are new, local accounts). Items of one sender are applied in arrival order (a
Delete must not overtake its Create).

The claim and the senders are one unit of work. The plain Create{Note}s of a batch — most of what a busy
inbox receives — are then applied set-based, in units of work of their own (``plain_creates``); the
other items go through their handlers as described here.

SQLite has one writer, which the inbox's group commit (``intake``) needs to answer peers: the batch's
transaction commits and hands the writer back after ``MAX_HOLD``, or after ``HOLD_WHILE_WAITED`` once
the intake is waiting for it, then takes the next turn (``Database.write_connection`` gives the intake
urgent turns, so the two alternate under steady arrivals and a burst is still answered first).

An item whose handler needs the network (an author or a note to fetch) or runs its own bounded
transactions (purging a deleted account) raises ``ApplyAlone`` inside the batch; it and the later items
of its sender are then applied one by one after the batch, network lookups outside any transaction. A
network failure there is retried with backoff; an activity that can never apply is marked failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from activitypub.vocab import get_id
from fediverse.core.metrics import INBOX_PROCESSED
from fediverse.federation.inbox.context import ApplyAlone, Batch, IngestContext
from fediverse.federation.inbox.handlers import HANDLERS
from fediverse.federation.inbox.plain_creates import Plain, apply_plain, split_plain
from fediverse.federation.resolve import ACTOR_MAX_AGE
from fediverse.federation.retries import PERMANENT_ERRORS, TRANSIENT_ERRORS, attempt_change
from fediverse.services import Services
from storage.claims import claim_due_in
from storage.db import UNAVAILABLE_ERRORS
from storage.models import Actor, InboxItem, WorkState
from storage.types import utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 200
CONCURRENT_SENDERS = 8
MAX_ATTEMPTS = 8
LOCK_FOR = timedelta(minutes=5)
#: A batch's transaction commits after holding the writer this long (seconds) and takes another turn…
MAX_HOLD = 0.05
#: …or after this long once the inbox's group commit is waiting for the writer.
HOLD_WHILE_WAITED = 0.01
#: What a deleted (gone) account may still have applied: its own Delete (a purge left unfinished carries
#: on) and an Update, which brings a returning account back.
GONE_SENDERS_MAY = frozenset({"Delete", "Update"})

Outcome = tuple[InboxItem, BaseException | None]
#: What applying an item may fail with: recorded as its outcome (retried, or failed for good).
APPLY_ERRORS: tuple[type[BaseException], ...] = (*PERMANENT_ERRORS, *TRANSIENT_ERRORS)


class InboxQueue:
    name = "inbox"

    def __init__(self, services: Services, *, batch_size: int = BATCH_SIZE) -> None:
        self.services = services
        self.batch_size = batch_size
        self.context = IngestContext(
            db=services.db, urls=services.urls, resolver=services.resolver, forget_key=services.keys.forget
        )

    async def run_once(self) -> int:
        db = self.services.db
        items, senders = await db.write(partial(_claim, limit=self.batch_size))
        if not items:
            return 0
        started = time.perf_counter()
        unknown = {item.actor_ap_id for item in items} - set(senders)
        plain, rest = await asyncio.to_thread(split_plain, items, senders, self.services.urls)
        to_handlers = await self._apply_plain(plain) if plain else []
        if to_handlers:
            order = {item.id: position for position, item in enumerate(items)}
            rest = sorted([*rest, *to_handlers], key=lambda item: order[item.id])
        alone = await self._apply_in_batch(rest, senders, unknown) if rest else []
        if alone:
            await self._apply_alone(alone)
        log.info(
            "inbox: %d items in %.1fms (%d plain, %d alone)",
            len(items),
            (time.perf_counter() - started) * 1000,
            len(plain) - len(to_handlers),
            len(alone),
            extra={"queue": self.name, "items": len(items), "alone": len(alone)},
        )
        self.services.wake_worker("deliveries")
        self.services.wake_worker("fetches")  # parents that replies in this batch lack
        return len(items)

    # -- the batch ---------------------------------------------------------------------------------

    async def _apply_plain(self, creates: list[Plain]) -> list[InboxItem]:
        """Apply plain Creates, likes, boosts and their Undos set-based, in units of work that hand the writer
        back between them; the items left for the handlers (a chunk whose statements failed, and every plain
        item after it)."""
        db = self.services.db
        pending = creates
        while pending:
            outcome = await db.write(
                partial(
                    apply_plain,
                    creates=pending,
                    record=record_outcomes,
                    max_hold=MAX_HOLD,
                    hold_while_waited=HOLD_WHILE_WAITED,
                    writer_wanted=lambda: db.urgent_writer_waiting,
                )
            )
            if outcome.to_handlers:
                return outcome.to_handlers
            pending = outcome.later
        return []

    async def _apply_in_batch(
        self, items: Sequence[InboxItem], senders: dict[str, Actor], unknown: set[str]
    ) -> list[InboxItem]:
        """Apply ``items`` in as few write transactions as sharing the writer allows; the items left to
        apply alone, in order."""
        loop = asyncio.get_running_loop()
        db = self.services.db
        pending = deque(items)
        alone: list[InboxItem] = []
        alone_senders = set(unknown)
        batch: Batch | None = None
        while pending:
            outcomes: list[Outcome] = []
            async with db.transaction() as session:
                if batch is None:
                    batch = Batch(session)
                    await batch.prefetch_posts(_created_ids(pending))
                else:
                    # What the batch learnt stays true across its transactions: only this worker applies these
                    # items, and a note another worker stores meanwhile is refused by its unique id.
                    batch.session = session
                context = self.context.in_batch(batch)
                started = loop.time()
                while pending:
                    item = pending.popleft()
                    if item.actor_ap_id in alone_senders:
                        alone.append(item)
                        continue
                    try:
                        outcomes.append(
                            (item, await _apply_in_savepoint(context, batch, senders[item.actor_ap_id], item))
                        )
                    except ApplyAlone:
                        alone_senders.add(item.actor_ap_id)
                        alone.append(item)
                        continue
                    held = loop.time() - started
                    if held >= MAX_HOLD or (held >= HOLD_WHILE_WAITED and db.urgent_writer_waiting):
                        break
                await session.run_sync(record_outcomes, outcomes)
        return alone

    # -- one by one --------------------------------------------------------------------------------

    async def _apply_alone(self, items: Sequence[InboxItem]) -> None:
        """Apply items one at a time (network lookups between short transactions): senders concurrently,
        each sender's items in order. Every outcome is recorded in one transaction at the end."""
        by_sender: defaultdict[str, list[InboxItem]] = defaultdict(list)
        for item in items:
            by_sender[item.actor_ap_id].append(item)
        limit = asyncio.Semaphore(CONCURRENT_SENDERS)
        outcomes: list[Outcome] = []

        async def apply_in_order(sender_items: list[InboxItem]) -> None:
            async with limit:
                for item in sender_items:
                    outcomes.append((item, await self._apply(item)))

        try:
            await asyncio.gather(*(apply_in_order(group) for group in by_sender.values()))
        finally:
            if outcomes:
                async with self.services.db.transaction() as session:
                    await session.run_sync(record_outcomes, outcomes)

    async def _apply(self, item: InboxItem) -> BaseException | None:
        """Run the item's handler alone: the failure, or ``None`` when it applied."""
        handler = HANDLERS.get(item.type)
        try:
            if handler is not None:
                actor = await self._sender(item)
                if actor.gone_at is None or item.type in GONE_SENDERS_MAY:
                    await handler(self.context, actor, item.payload)
        except APPLY_ERRORS as failure:
            return failure
        return None

    async def _sender(self, item: InboxItem) -> Actor:
        if _is_self_delete(item):  # a deleted account's document answers 410: what we stored is enough
            async with self.services.db.session() as session:
                stored = await session.scalar(select(Actor).where(col(Actor.ap_id) == item.actor_ap_id))
            if stored is not None:
                return stored
        return await self.services.resolver.actor(item.actor_ap_id)


async def _apply_in_savepoint(
    context: IngestContext, batch: Batch, actor: Actor, item: InboxItem
) -> BaseException | None:
    """Run the item's handler in a savepoint of the batch's transaction: ``None`` when it applied, or the
    failure it rolled back with. ``ApplyAlone`` and a lost database connection propagate."""
    handler = HANDLERS.get(item.type)
    if handler is None or (actor.gone_at is not None and item.type not in GONE_SENDERS_MAY):
        return None
    try:
        async with batch.session.begin_nested():
            await handler(context, actor, item.payload)
    except ApplyAlone:
        batch.forget()
        raise
    except UNAVAILABLE_ERRORS:
        raise  # the whole transaction is lost; the claims expire and the batch is tried again
    except Exception as failure:
        batch.forget()
        if not isinstance(failure, APPLY_ERRORS):
            log.exception("inbox item %s (%s) raised unexpectedly", item.activity_ap_id, item.type)
        return failure
    return None


def record_outcomes(session: Session, outcomes: Sequence[Outcome]) -> None:
    """Every outcome in one bulk UPDATE, in the transaction given (for a batch: the one holding the
    items' effects, so an item is marked done exactly when what it did is committed)."""
    if not outcomes:
        return
    now = utcnow()
    counts: Counter[str] = Counter()
    changes: list[dict[str, Any]] = []
    for item, error in outcomes:
        change = attempt_change(
            item.id, item.attempts, error, max_attempts=MAX_ATTEMPTS, now=now, done_column="processed_at"
        )
        if change.get("state") == WorkState.FAILED:
            log.info("inbox item %s (%s) failed: %s", item.activity_ap_id, item.type, change["last_error"])
        counts[_OUTCOMES.get(change.get("state"), "retry")] += 1
        changes.append(change)
    session.execute(update(InboxItem), changes)
    for outcome, count in counts.items():
        INBOX_PROCESSED.labels(outcome).inc(count)


def _claim(session: Session, *, limit: int) -> tuple[list[InboxItem], dict[str, Actor]]:
    """Claim up to ``limit`` due items and look up their senders, in one unit of work."""
    items = claim_due_in(session, InboxItem, limit=limit, lock_for=LOCK_FOR)
    return items, (_usable_senders(session, items) if items else {})


def _usable_senders(session: Session, items: Sequence[InboxItem]) -> dict[str, Actor]:
    """The stored sender of each item that can be used without fetching it again (one query). The other
    senders (unknown, or stale) need the network: their items are applied alone."""
    wanted = {item.actor_ap_id for item in items}
    self_deleting = {item.actor_ap_id for item in items if _is_self_delete(item)}
    now = utcnow()
    usable: dict[str, Actor] = {}
    for actor in session.scalars(select(Actor).where(col(Actor.ap_id).in_(wanted))):
        fresh = actor.fetched_at is not None and now - actor.fetched_at < ACTOR_MAX_AGE
        # A deleted account answers 410 to a fetch: its Delete is applied with what we stored.
        if actor.is_local or fresh or actor.gone_at is not None or actor.ap_id in self_deleting:
            usable[actor.ap_id] = actor
    return usable


#: An attempt's outcome by the state it leaves the row in (still queued: due again later).
_OUTCOMES: dict[object, str] = {WorkState.DONE: "applied", WorkState.FAILED: "failed"}


def _is_self_delete(item: InboxItem) -> bool:
    return (
        item.type == "Delete"
        and isinstance(item.payload, dict)
        and get_id(item.payload.get("object")) == item.actor_ap_id
    )


def _created_ids(items: Iterable[InboxItem]) -> set[str]:
    """The ids of the objects that Creates among ``items`` carry."""
    found: set[str] = set()
    for item in items:
        if item.type == "Create" and isinstance(item.payload, dict):
            object_id = get_id(item.payload.get("object"))
            if object_id:
                found.add(object_id)
    return found

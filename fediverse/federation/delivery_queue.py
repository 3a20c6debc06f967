"""The delivery worker: claims due ``Delivery`` rows, signs and sends them, and records each outcome.

Outcomes (``activitypub.delivery``): sent; retry with exponential backoff and jitter over about two days
(``Retry-After`` honoured on 429/503); ``410`` marks the recipient gone; other 4xx drop with the reason
kept. A host that keeps failing is backed off as a whole (``HostHealth``), and a per-host limit keeps
one slow server from holding every connection. The activity body is serialised once per batch; each
delivery is signed afresh (a retry gets a new ``Date``) in a small thread pool, since RSA signing
releases the GIL. The POSTs go through a ``DeliveryTransport`` (aiohttp by default; docs/decisions/0021).

A batch does not wait for its slowest host: once half of ``CONCURRENCY`` or fewer of a full batch's
deliveries are left, or after ``PATIENCE`` seconds, the next batch is claimed while the rest finish in
the background, still recorded as they arrive and with their claims renewed (docs/decisions/0022).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlmodel import col

from activitypub.delivery import DeliveryOutcome, compute_host_backoff_until, next_retry_delay
from activitypub.keys import PrivateKey
from activitypub.ld_signatures import LinkedDataSignatureError, sign_document
from activitypub.vocab import JsonObject, is_public
from fediverse.core.config import ConfigError
from fediverse.core.metrics import DELIVERIES, report_work
from fediverse.federation.transports import AiohttpTransport, DeliveryTransport, TransportFactory, TransportOptions
from fediverse.services import Services
from storage.claims import claim_due, holding_claims
from storage.models import Actor, Delivery, Follow, HostHealth, OutboxActivity, WorkState
from storage.types import utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 500
CONCURRENCY = 200
PER_HOST_CONCURRENCY = 4
#: A claim lasts this long unless renewed; a crashed worker's deliveries are sent again after it.
DEFAULT_LOCK_SECONDS = 60
#: While a batch is being sent, finished outcomes are written this often.
RECORD_EVERY_SECONDS = 0.25
#: A batch's deliveries still running after this many seconds finish in the background while the next
#: batch is claimed: measured, ten hosts that took 10 s to answer held 990 others back by 10 s.
PATIENCE = 2.0
#: On shutdown, deliveries still in flight get this long to finish and be recorded.
SHUTDOWN_GRACE = 5.0
#: Activities that carry a Linked Data signature when public or unlisted (Mastodon's ``sign?``).
LD_SIGNED_TYPES = frozenset({"Create", "Update", "Delete", "Announce"})
#: Signed bodies kept for the batches and retries that follow (an activity's deliveries may span several).
MAX_SIGNED_BODIES = 256


def read_seconds(extra: Mapping[str, str], variable: str, default: int, *, maximum: int = 3600) -> int:
    """A whole number of seconds from ``REVERIE_*`` settings, or ``ConfigError`` naming the variable."""
    raw = extra.get(variable, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ConfigError(variable, f"must be a whole number of seconds from 1 to {maximum}")
    return int(raw)


@dataclass
class _HostSlot:
    limit: asyncio.Semaphore
    users: int = 0


@dataclass(frozen=True)
class _Prepared:
    body: bytes
    key_id: str
    private_key: PrivateKey


class DeliveryQueue:
    name = "deliveries"

    def __init__(
        self,
        services: Services,
        *,
        batch_size: int = BATCH_SIZE,
        concurrency: int = CONCURRENCY,
        per_host: int = PER_HOST_CONCURRENCY,
        transport: TransportFactory = AiohttpTransport,
        patience: float = PATIENCE,
    ) -> None:
        self.services = services
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.per_host = per_host
        self.patience = patience
        self.signing_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sign")
        extra = services.settings.extra
        # How soon a crashed worker's claimed deliveries are retried.
        self.lock_for = timedelta(seconds=read_seconds(extra, "REVERIE_DELIVERY_LOCK_SECONDS", DEFAULT_LOCK_SECONDS))
        self.transport: DeliveryTransport = transport(
            TransportOptions(
                user_agent=services.user_agent,
                allow_private=services.settings.allow_private_addresses,
                max_connections=concurrency,
                per_host=per_host,
                signing_executor=self.signing_pool,
                # How long one POST may take in all (Mastodon: 10 s to read, 30 s in total).
                total_timeout=read_seconds(extra, "REVERIE_DELIVERY_TIMEOUT_SECONDS", 30, maximum=300),
            )
        )
        self._in_flight = asyncio.Semaphore(concurrency)
        self._host_slots: dict[str, _HostSlot] = {}
        self._batches: set[asyncio.Task[None]] = set()
        self._unfinished: set[asyncio.Task[DeliveryOutcome]] = set()
        #: Ids of the rows this worker claimed and has not finished with (sent and recorded, or given up).
        self._held: set[int] = set()
        self._recording = asyncio.Lock()
        #: Linked-Data-signed bodies by activity id: one signature per activity, whatever its batches.
        #: Signed bodies by activity and the exact payload (an activity sent again changed keeps its id).
        self._signed_bodies: OrderedDict[tuple[int, bytes], bytes] = OrderedDict()

    async def aclose(self) -> None:
        """Stop, giving deliveries in flight ``SHUTDOWN_GRACE`` seconds; the rest are abandoned and sent
        again once their claims expire."""
        if self._batches:
            await asyncio.wait(self._batches, timeout=SHUTDOWN_GRACE)
        for batch in list(self._batches):
            batch.cancel()
        await asyncio.gather(*self._batches, return_exceptions=True)
        await self.transport.aclose()
        self.signing_pool.shutdown(wait=False)

    async def run_once(self) -> int:
        while len(self._unfinished) >= self.batch_size:  # earlier batches' stragglers: claim no more yet
            await asyncio.wait(self._unfinished, return_when=asyncio.FIRST_COMPLETED)
        now = utcnow()
        backed_off = exists(
            select(col(HostHealth.host)).where(
                col(HostHealth.host) == col(Delivery.host), col(HostHealth.backoff_until) > now
            )
        )
        # Never our own rows still in flight, even if a late renewal let their claims lapse: a second copy
        # would go out while the first is still being sent.
        not_ours = [Delivery.id.not_in(self._held)] if self._held else []  # type: ignore[union-attr]
        async with self.services.db.transaction() as session:
            rows = await claim_due(
                session,
                Delivery,
                limit=self.batch_size,
                lock_for=self.lock_for,
                now=now,
                extra_where=[~backed_off, *not_ours],
            )
        if not rows:
            return 0
        self._held.update(row.id for row in rows if row.id is not None)
        prepared = await self._prepare({row.activity_id for row in rows})
        sends = {asyncio.create_task(self._send(row, prepared.get(row.activity_id))): row for row in rows}
        self._unfinished.update(sends)
        for send in sends:
            send.add_done_callback(self._unfinished.discard)
        batch = asyncio.create_task(self._record_as_they_finish(sends))
        self._batches.add(batch)
        batch.add_done_callback(self._batches.discard)
        # A full batch means more is due: claim it once most of this one is done, not all of it.
        handover = self.concurrency // 2 if len(rows) == self.batch_size else 0
        await _wait_until(list(sends), at_most_pending=handover, timeout=self.patience)
        if all(send.done() for send in sends):
            await batch
        return len(rows)

    async def _record_as_they_finish(self, sends: dict[asyncio.Task[DeliveryOutcome], Delivery]) -> None:
        """Write outcomes as they arrive (every ``RECORD_EVERY_SECONDS``), renewing the claims of the rest:
        after a crash only the deliveries really in flight are sent again."""
        started = time.perf_counter()
        unrecorded = {row.id for row in sends.values() if row.id is not None}
        pending: set[asyncio.Task[DeliveryOutcome]] = set(sends)
        try:
            async with holding_claims(self.services.db, Delivery, unrecorded, lock_for=self.lock_for):
                while pending:
                    done, pending = await asyncio.wait(pending, timeout=RECORD_EVERY_SECONDS)
                    finished = [(sends[send], send.result()) for send in done]
                    if finished and await self._record_safely(finished, started):
                        unrecorded.difference_update(row.id for row, _ in finished)
        finally:
            self._held.difference_update(row.id for row in sends.values())

    async def _record_safely(self, finished: list[tuple[Delivery, DeliveryOutcome]], started: float) -> bool:
        """Record outcomes; ``False`` when the database is busy or away (those rows are sent again once
        their claims expire)."""
        try:
            async with self._recording:  # overlapping batches must not race on HostHealth rows
                await self._record(finished, started)
        except Exception:
            log.warning("could not record %d delivery outcomes", len(finished), exc_info=True)
            return False
        return True

    async def _send(self, row: Delivery, activity: _Prepared | None) -> DeliveryOutcome:
        if activity is None:
            return DeliveryOutcome("drop", reason="the activity or its signing key is gone")
        try:
            # The host's slot first: a delivery queued behind a slow host must not hold a global slot.
            async with self._host_slot(row.host), self._in_flight:
                return await self.transport.send(
                    row.inbox_url, activity.body, key_id=activity.key_id, private_key=activity.private_key
                )
        except Exception as error:  # a bug must cost one delivery a retry, not the batch its outcomes
            log.exception("delivery to %s failed unexpectedly", row.inbox_url)
            return DeliveryOutcome("retry", reason=f"unexpected error: {type(error).__name__}")

    @asynccontextmanager
    async def _host_slot(self, host: str) -> AsyncIterator[None]:
        """At most ``per_host`` deliveries to one host at a time, across overlapping batches."""
        slot = self._host_slots.setdefault(host, _HostSlot(asyncio.Semaphore(self.per_host)))
        slot.users += 1
        try:
            async with slot.limit:
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._host_slots[host]

    async def _prepare(self, activity_ids: set[int]) -> dict[int, _Prepared]:
        """Each activity's exact bytes and its actor's signing key, once per batch."""
        async with self.services.db.session() as session:
            activities = (
                await session.execute(
                    select(col(OutboxActivity.id), col(OutboxActivity.actor_id), col(OutboxActivity.payload)).where(
                        col(OutboxActivity.id).in_(activity_ids)
                    )
                )
            ).all()
        prepared = {}
        for activity_id, actor_id, payload in activities:
            try:
                key_id, private_key = await self.services.keys.signing_key(actor_id)
            except LookupError:
                continue
            body = await self._body(activity_id, payload, key_id, private_key)
            prepared[activity_id] = _Prepared(body=body, key_id=key_id, private_key=private_key)
        return prepared

    async def _body(self, activity_id: int, payload: JsonObject, key_id: str, private_key: PrivateKey) -> bytes:
        """The bytes sent for an activity: with a Linked Data signature when it needs one (made once, in the
        signing pool), else as stored."""
        plain = _serialise(payload)
        if not self._needs_ld_signature(payload):
            return plain
        cache_key = (activity_id, hashlib.sha256(plain).digest())
        cached = self._signed_bodies.get(cache_key)
        if cached is not None:
            self._signed_bodies.move_to_end(cache_key)
            return cached
        loop = asyncio.get_running_loop()
        try:
            signed = await loop.run_in_executor(self.signing_pool, sign_document, payload, private_key, key_id)
        except (LinkedDataSignatureError, TypeError):  # a key that is not RSA, a document pyld refuses
            log.warning("activity %s goes without a linked data signature", activity_id, exc_info=True)
            return plain
        body = _serialise(signed)
        self._signed_bodies[cache_key] = body
        while len(self._signed_bodies) > MAX_SIGNED_BODIES:
            self._signed_bodies.popitem(last=False)
        return body

    def _needs_ld_signature(self, payload: JsonObject) -> bool:
        return (
            not self.services.settings.authorized_fetch
            and payload.get("type") in LD_SIGNED_TYPES
            and is_public(payload)
        )

    async def _record(self, results: list[tuple[Delivery, DeliveryOutcome]], started: float) -> None:
        now = utcnow()
        changes: list[dict[str, Any]] = []
        gone_inboxes: set[str] = set()
        host_results: dict[str, list[bool]] = defaultdict(list)
        for row, outcome in results:
            change: dict[str, Any] = {
                "id": row.id,
                "attempts": row.attempts + 1,
                "locked_until": None,
                "last_status": outcome.status,
                "last_error": _describe_failure(outcome) if outcome.kind != "sent" else None,
            }
            if outcome.kind == "sent":
                change.update(state=WorkState.DONE, sent_at=now)
                host_results[row.host].append(True)
            elif outcome.kind == "gone":
                change.update(state=WorkState.GONE)
                gone_inboxes.add(row.inbox_url)
            elif outcome.kind == "drop":
                change.update(state=WorkState.FAILED)
            else:
                delay = next_retry_delay(row.attempts + 1, retry_after=outcome.retry_after)
                if delay is None:
                    change.update(state=WorkState.FAILED, last_error=f"gave up after {row.attempts + 1} attempts")
                else:
                    change.update(next_attempt_at=now + delay)
                host_results[row.host].append(False)
            changes.append(change)
        async with self.services.db.transaction() as session:
            await session.execute(update(Delivery), changes)
            await self._record_host_health(session, host_results, now)
            if gone_inboxes:
                await self._forget_gone(session, gone_inboxes, now)
        counts = Counter(_OUTCOMES[change.get("state", WorkState.QUEUED)] for change in changes)
        report_work(log, self.name, DELIVERIES, counts, len(results), started)

    @staticmethod
    async def _record_host_health(session: Any, host_results: dict[str, list[bool]], now: datetime) -> None:
        if not host_results:
            return
        known = {
            health.host: health
            for health in await session.scalars(select(HostHealth).where(col(HostHealth.host).in_(list(host_results))))
        }
        for host, successes in host_results.items():
            health = known.get(host)
            if any(successes):
                if health is not None:
                    health.consecutive_failures = 0
                    health.first_failure_at = health.backoff_until = None
                    health.last_success_at = now
                continue
            if health is None:
                health = HostHealth(host=host, consecutive_failures=0)
                session.add(health)
            health.consecutive_failures += len(successes)
            health.first_failure_at = health.first_failure_at or now
            health.last_failure_at = now
            health.backoff_until = compute_host_backoff_until(health.consecutive_failures, now)

    @staticmethod
    async def _forget_gone(session: Any, inboxes: set[str], now: datetime) -> None:
        """A 410 from an inbox: nothing more goes there; from a personal inbox, that actor is gone."""
        await session.execute(
            update(Delivery)
            .where(col(Delivery.inbox_url).in_(list(inboxes)), col(Delivery.state) == WorkState.QUEUED)
            .values(state=WorkState.GONE, locked_until=None, last_error="the inbox answered 410 to another delivery")
        )
        gone = list(await session.scalars(select(col(Actor.id)).where(col(Actor.inbox_url).in_(list(inboxes)))))
        if gone:
            await session.execute(update(Actor).where(col(Actor.id).in_(gone)).values(gone_at=now))
            await session.execute(delete(Follow).where(col(Follow.follower_id).in_(gone)))


async def _wait_until(tasks: list[asyncio.Task[DeliveryOutcome]], *, at_most_pending: int, timeout: float) -> None:
    """Until no more than ``at_most_pending`` of ``tasks`` are still running, or ``timeout`` passed."""
    pending = sum(not task.done() for task in tasks)
    enough = asyncio.Event()
    if pending <= at_most_pending:
        return

    def count(_: object) -> None:
        nonlocal pending
        pending -= 1
        if pending <= at_most_pending:
            enough.set()

    for task in tasks:
        if not task.done():
            task.add_done_callback(count)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await enough.wait()


def _serialise(payload: JsonObject) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


#: A delivery's outcome by the state its attempt left the row in (still queued: due again later).
_OUTCOMES = {WorkState.DONE: "sent", WorkState.GONE: "gone", WorkState.FAILED: "failed", WorkState.QUEUED: "retry"}


def _describe_failure(outcome: DeliveryOutcome) -> str | None:
    """Why a delivery failed, with what the peer said (its body often names the problem)."""
    excerpt = " ".join(outcome.body_excerpt.split())[:500]
    return ": ".join(part for part in (outcome.reason, excerpt) if part) or None

"""The delivery worker: claims due ``Delivery`` rows, signs and sends them, and records each outcome.

Outcomes (``activitypub.delivery``): sent; retry with exponential backoff and jitter over about two days
(``Retry-After`` honoured on 429/503); ``410`` marks the recipient gone; other 4xx drop with the reason
kept. A host that keeps failing is backed off as a whole (``HostHealth``), and a per-host limit keeps
one slow server from holding every connection. The activity body is serialised once per batch; each
delivery is signed afresh (a retry gets a new ``Date``) in a small thread pool, since RSA signing
releases the GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select, update

from activitypub.delivery import DeliveryOutcome, compute_host_backoff_until, next_retry_delay
from activitypub.keys import PrivateKey
from fediverse.federation.transports import AiohttpTransport, DeliveryTransport, TransportFactory, TransportOptions
from fediverse.services import Services
from storage.models import Actor, Delivery, Follow, HostHealth, OutboxActivity, WorkState
from storage.queue import claim_due
from storage.types import utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 500
CONCURRENCY = 200
PER_HOST_CONCURRENCY = 4
#: A claim lasts this long; a batch that takes longer is retried by another worker (peers dedupe).
LOCK_FOR = timedelta(minutes=5)
#: Deliveries of a batch still running after this many seconds finish in the background and the next
#: batch is claimed: measured, ten hosts that took 10 s to answer held 990 others back by 10 s. A full
#: batch hands over sooner, once half of ``CONCURRENCY`` or fewer of its deliveries are left.
PATIENCE = 2.0
#: On shutdown, deliveries still in flight get this long to finish and be recorded.
SHUTDOWN_GRACE = 5.0


async def _wait_until(tasks: list[asyncio.Task[DeliveryOutcome]], *, at_most_pending: int, timeout: float) -> None:
    """Until no more than ``at_most_pending`` of ``tasks`` are still running, or ``timeout`` passed."""
    pending = len(tasks)
    enough = asyncio.Event()

    def count(_: object) -> None:
        nonlocal pending
        pending -= 1
        if pending <= at_most_pending:
            enough.set()

    for task in tasks:
        task.add_done_callback(count)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await enough.wait()


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
        self._in_flight = asyncio.Semaphore(concurrency)
        self._host_slots: dict[str, _HostSlot] = {}
        self._stragglers: set[asyncio.Task[None]] = set()
        self._unfinished: set[asyncio.Task[DeliveryOutcome]] = set()
        self.transport: DeliveryTransport = transport(
            TransportOptions(
                user_agent=services.user_agent,
                allow_private=services.settings.allow_private_addresses,
                max_connections=concurrency,
                per_host=per_host,
                signing_executor=self.signing_pool,
            )
        )

    async def aclose(self) -> None:
        """Stop, giving deliveries in flight ``SHUTDOWN_GRACE`` seconds; the rest are abandoned, and their
        claims expire and they are retried."""
        if self._stragglers:
            await asyncio.wait(self._stragglers, timeout=SHUTDOWN_GRACE)
        for stragglers in list(self._stragglers):
            stragglers.cancel()
        await asyncio.gather(*self._stragglers, return_exceptions=True)
        await self.transport.aclose()
        self.signing_pool.shutdown(wait=False)

    async def run_once(self) -> int:
        while len(self._unfinished) >= self.batch_size:  # stragglers of earlier batches: claim no more yet
            await asyncio.wait(self._unfinished, return_when=asyncio.FIRST_COMPLETED)
        now = utcnow()
        backed_off = exists(
            select(HostHealth.host).where(HostHealth.host == Delivery.host, HostHealth.backoff_until > now)
        )
        async with self.services.db.transaction() as session:
            rows = await claim_due(
                session, Delivery, limit=self.batch_size, lock_for=LOCK_FOR, now=now, extra_where=[~backed_off]
            )
        if not rows:
            return 0
        prepared = await self._prepare({row.activity_id for row in rows})
        sends = [asyncio.create_task(self._send(row, prepared.get(row.activity_id))) for row in rows]
        self._unfinished.update(sends)
        for send in sends:
            send.add_done_callback(self._unfinished.discard)
        # A full batch means more is due: claim it once most of this one is done, not all of it.
        await _wait_until(
            sends, at_most_pending=self.concurrency // 2 if len(rows) == self.batch_size else 0, timeout=self.patience
        )
        finished = [(row, send.result()) for row, send in zip(rows, sends, strict=True) if send.done()]
        late = [(row, send) for row, send in zip(rows, sends, strict=True) if not send.done()]
        await self._record(finished)
        if late:
            # Slow hosts finish in the background (their rows stay claimed) while the next batch goes out.
            stragglers = asyncio.create_task(self._record_when_done(late))
            self._stragglers.add(stragglers)
            stragglers.add_done_callback(self._stragglers.discard)
        return len(rows)

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

    async def _record_when_done(self, late: list[tuple[Delivery, asyncio.Task[DeliveryOutcome]]]) -> None:
        """Record the batch's late deliveries as they finish, a patience's worth at a time."""
        while late:
            await asyncio.wait([send for _, send in late], timeout=self.patience)
            await self._record([(row, send.result()) for row, send in late if send.done()])
            late = [(row, send) for row, send in late if not send.done()]

    async def _prepare(self, activity_ids: set[int]) -> dict[int, _Prepared]:
        """Each activity's exact bytes and its actor's signing key, once per batch."""
        async with self.services.db.session() as session:
            activities = (
                await session.execute(
                    select(OutboxActivity.id, OutboxActivity.actor_id, OutboxActivity.payload).where(
                        OutboxActivity.id.in_(activity_ids)
                    )
                )
            ).all()
        prepared = {}
        for activity_id, actor_id, payload in activities:
            try:
                key_id, private_key = await self.services.keys.signing_key(actor_id)
            except LookupError:
                continue
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            prepared[activity_id] = _Prepared(body=body, key_id=key_id, private_key=private_key)
        return prepared

    async def _record(self, results: list[tuple[Delivery, DeliveryOutcome]]) -> None:
        if not results:
            return
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
                "last_error": (outcome.reason or outcome.body_excerpt or None) if outcome.kind != "sent" else None,
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
        counts = Counter(outcome.kind for _, outcome in results)
        log.info("delivered a batch of %d: %s", len(results), dict(counts))

    @staticmethod
    async def _record_host_health(session: Any, host_results: dict[str, list[bool]], now: datetime) -> None:
        if not host_results:
            return
        known = {
            health.host: health
            for health in await session.scalars(select(HostHealth).where(HostHealth.host.in_(list(host_results))))
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
        """A 410 from a personal inbox: that actor is gone; stop delivering to it."""
        gone = list(await session.scalars(select(Actor.id).where(Actor.inbox_url.in_(list(inboxes)))))
        if gone:
            await session.execute(update(Actor).where(Actor.id.in_(gone)).values(gone_at=now))
            await session.execute(delete(Follow).where(Follow.follower_id.in_(gone)))

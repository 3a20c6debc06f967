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
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, exists, select, update

from activitypub.delivery import (
    DeliveryClients,
    DeliveryOutcome,
    compute_host_backoff_until,
    deliver_activity,
    next_retry_delay,
)
from activitypub.keys import PrivateKey
from fediverse.config import ConfigError
from fediverse.services import Services
from storage.models import Actor, Delivery, Follow, HostHealth, OutboxActivity, WorkState
from storage.queue import claim_due, holding_claims
from storage.types import utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 500
CONCURRENCY = 200
PER_HOST_CONCURRENCY = 4
#: A claim lasts this long unless renewed; a crashed worker's deliveries are sent again after it.
DEFAULT_LOCK_SECONDS = 60
#: While a batch is being sent, finished outcomes are written this often.
RECORD_EVERY_SECONDS = 0.25


def read_seconds(extra: Mapping[str, str], variable: str, default: int, *, maximum: int = 3600) -> int:
    """A whole number of seconds from ``REVERIE_*`` settings, or ``ConfigError`` naming the variable."""
    raw = extra.get(variable, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ConfigError(variable, f"must be a whole number of seconds from 1 to {maximum}")
    return int(raw)


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
    ) -> None:
        self.services = services
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.per_host = per_host
        self.clients = DeliveryClients(max_hosts=1024, max_connections_per_host=per_host)
        self.signing_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sign")
        extra = services.settings.extra
        # How soon a crashed worker's claimed deliveries are retried.
        self.lock_for = timedelta(seconds=read_seconds(extra, "REVERIE_DELIVERY_LOCK_SECONDS", DEFAULT_LOCK_SECONDS))
        # How long one POST may take in all (Mastodon: 10 s to read, 30 s in total).
        total = read_seconds(extra, "REVERIE_DELIVERY_TIMEOUT_SECONDS", 30, maximum=300)
        self.timeout = httpx.Timeout(min(10.0, total), connect=min(5.0, total))
        self.total_timeout = float(total)

    async def aclose(self) -> None:
        await self.clients.aclose()
        self.signing_pool.shutdown(wait=False)

    async def run_once(self) -> int:
        now = utcnow()
        backed_off = exists(
            select(HostHealth.host).where(HostHealth.host == Delivery.host, HostHealth.backoff_until > now)
        )
        async with self.services.db.transaction() as session:
            rows = await claim_due(
                session, Delivery, limit=self.batch_size, lock_for=self.lock_for, now=now, extra_where=[~backed_off]
            )
        if not rows:
            return 0
        prepared = await self._prepare({row.activity_id for row in rows})
        global_limit = asyncio.Semaphore(self.concurrency)
        host_limits: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(self.per_host))

        async def send(row: Delivery) -> DeliveryOutcome:
            activity = prepared.get(row.activity_id)
            if activity is None:
                return DeliveryOutcome("drop", reason="the activity or its signing key is gone")
            async with global_limit, host_limits[row.host], self.clients.lease(row.inbox_url) as client:
                return await deliver_activity(
                    client,
                    row.inbox_url,
                    activity.body,
                    key_id=activity.key_id,
                    private_key=activity.private_key,
                    user_agent=self.services.user_agent,
                    allow_private=self.services.settings.allow_private_addresses,
                    signing_executor=self.signing_pool,
                    timeout=self.timeout,
                    total_timeout=self.total_timeout,
                )

        # Outcomes are recorded as they come in, not when the whole batch is done: after a crash only the
        # deliveries that were really in flight are sent again.
        unrecorded = {row.id for row in rows if row.id is not None}
        finished: list[tuple[Delivery, DeliveryOutcome]] = []

        async def send_and_collect(row: Delivery) -> None:
            finished.append((row, await send(row)))

        async def record_finished() -> None:
            batch = finished[:]
            del finished[: len(batch)]
            if batch:
                await self._record(batch)
                unrecorded.difference_update(row.id for row, _ in batch)

        async with holding_claims(self.services.db, Delivery, unrecorded, lock_for=self.lock_for):
            sending = asyncio.gather(*(send_and_collect(row) for row in rows))
            while not sending.done():
                await asyncio.wait([sending], timeout=RECORD_EVERY_SECONDS)
                await record_finished()
            await sending
            await record_finished()
        return len(rows)

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
        """A 410 from an inbox: nothing more goes there; from a personal inbox, that actor is gone."""
        await session.execute(
            update(Delivery)
            .where(Delivery.inbox_url.in_(list(inboxes)), Delivery.state == WorkState.QUEUED)
            .values(state=WorkState.GONE, locked_until=None, last_error="the inbox answered 410 to another delivery")
        )
        gone = list(await session.scalars(select(Actor.id).where(Actor.inbox_url.in_(list(inboxes)))))
        if gone:
            await session.execute(update(Actor).where(Actor.id.in_(gone)).values(gone_at=now))
            await session.execute(delete(Follow).where(Follow.follower_id.in_(gone)))


def _describe_failure(outcome: DeliveryOutcome) -> str | None:
    """Why a delivery failed, with what the peer said (its body often names the problem)."""
    excerpt = " ".join(outcome.body_excerpt.split())[:500]
    return ": ".join(part for part in (outcome.reason, excerpt) if part) or None

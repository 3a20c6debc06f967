"""Which work queues a worker runs, and their lifetime. Each queue module owns its claiming and processing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fediverse.federation.delivery_queue import DeliveryQueue
from fediverse.federation.fetch_queue import ThreadFetchQueue
from fediverse.federation.inbox.inbox_queue import InboxQueue
from fediverse.federation.media_queue import RemoteMediaQueue
from fediverse.housekeeping.housekeeping_queue import HousekeepingQueue
from fediverse.portability.jobs import AccountJobQueue
from fediverse.services import Services
from fediverse.studio.generation_queue import GenerationQueue
from fediverse.worker.loop import Worker, WorkQueue


@asynccontextmanager
async def open_worker(services: Services) -> AsyncIterator[Worker]:
    """A worker over this version's queues, in the order ``Worker.run_once`` visits them."""
    deliveries = DeliveryQueue(services)
    generation = GenerationQueue(services)
    try:
        queues: list[WorkQueue] = [
            InboxQueue(services),
            ThreadFetchQueue(services),
            RemoteMediaQueue(services),
            deliveries,
            generation,
            AccountJobQueue(services),
            HousekeepingQueue(services),
        ]
        yield Worker(queues)
    finally:
        await generation.aclose()
        await deliveries.aclose()

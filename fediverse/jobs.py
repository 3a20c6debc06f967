"""Which work queues a worker runs. Each queue module owns its claiming and processing."""

from __future__ import annotations

from fediverse.services import Services
from fediverse.worker import Worker, WorkQueue


def build_queues(services: Services) -> list[WorkQueue]:
    """The queues of this version, in the order ``Worker.run_once`` visits them."""
    del services  # the first queues arrive with federation and generation
    return []


def build_worker(services: Services) -> Worker:
    return Worker(build_queues(services))

"""The worker: claims due rows from the work queues (inbox items, thread fetches, deliveries, generation jobs)
and runs them.

It runs inside ``reverie serve`` (in-process) or alone as ``reverie worker``; any number of worker
processes may share one database, because claims are row locks that expire (``storage.claims``).
Each queue gets its own loop, so a slow fan-out never delays inbox processing. Tests call
``run_once()`` / ``drain()`` instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

log = logging.getLogger(__name__)

#: How long an idle queue loop waits before polling the database again (woken early by ``wake()``).
IDLE_POLL_SECONDS = 1.0
#: After an unexpected error in a queue, wait this long before trying again.
ERROR_BACKOFF_SECONDS = 5.0


class WorkQueue(Protocol):
    name: str

    async def run_once(self) -> int:
        """Claim due rows, process them, and return how many were processed."""
        ...


class Worker:
    def __init__(self, queues: Sequence[WorkQueue], *, idle_poll_seconds: float = IDLE_POLL_SECONDS) -> None:
        self.queues = list(queues)
        self.idle_poll_seconds = idle_poll_seconds
        self._wakeups = {queue.name: asyncio.Event() for queue in self.queues}

    def wake(self, queue_name: str | None = None) -> None:
        """Tell idle loops that new work exists (used by the web app in the same process)."""
        for name, event in self._wakeups.items():
            if queue_name is None or name == queue_name:
                event.set()

    async def run_once(self) -> int:
        """One pass over every queue; the number of rows processed."""
        processed = 0
        for queue in self.queues:
            processed += await queue.run_once()
        return processed

    async def drain(self, *, max_passes: int = 100) -> int:
        """Run passes until nothing is due (work that is scheduled for later stays queued)."""
        total = 0
        for _ in range(max_passes):
            processed = await self.run_once()
            total += processed
            if processed == 0:
                return total
        raise RuntimeError(f"work still due after {max_passes} passes")

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Run every queue's loop until ``stop`` is set."""
        async with asyncio.TaskGroup() as group:
            for queue in self.queues:
                group.create_task(self._loop(queue, stop), name=f"worker:{queue.name}")

    async def _loop(self, queue: WorkQueue, stop: asyncio.Event) -> None:
        wakeup = self._wakeups[queue.name]
        while not stop.is_set():
            try:
                processed = await queue.run_once()
            except Exception:  # one bad batch must not kill the worker
                log.exception("worker queue %s failed; retrying in %.0f s", queue.name, ERROR_BACKOFF_SECONDS)
                await _wait_any(stop, None, ERROR_BACKOFF_SECONDS)
                continue
            if processed == 0:
                await _wait_any(stop, wakeup, self.idle_poll_seconds)
                wakeup.clear()


async def _wait_any(stop: asyncio.Event, wakeup: asyncio.Event | None, timeout: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait())]
    if wakeup is not None:
        waiters.append(asyncio.ensure_future(wakeup.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter

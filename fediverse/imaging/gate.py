"""How many images this process decodes at once.

A 40-megapixel image takes 120–160 MB decoded, and about as much again while it is turned upright,
converted to sRGB and resized; twelve uploads at once took a server to 2.4 GB. So decoding (and the
resizing and encoding that follow) runs under one process-wide gate of ``MAX_CONCURRENT_DECODES``;
the rest wait their turn, holding only their bytes. Threads wait in ``slot()``. Coroutines first wait
in ``turn()`` on their event loop, so that a queue of uploads holds no executor thread (those also read
media files and check passwords) while it waits.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

#: Images decoded at the same time in one process.
MAX_CONCURRENT_DECODES = 2


class DecodeGate:
    """At most ``limit`` holders of ``slot()`` at once. ``running`` and ``waiting`` are gauges."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0
        self.waiting = 0
        self._changed = threading.Condition()
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the ``limit`` places while decoding; blocks the calling thread until one is free."""
        with self._changed:
            self._count(waiting=1)
            self._changed.wait_for(lambda: self.running < self.limit)
            self._count(waiting=-1, running=1)
        try:
            yield
        finally:
            with self._changed:
                self._count(running=-1)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """For a coroutine about to hand an image to a thread: wait, on the loop, until that thread would
        find a ``slot()`` free (callers on other threads may still take it first; it then waits briefly)."""
        turns = self._turns.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(self.limit))
        with self._changed:
            self._count(waiting=1)
        try:
            await turns.acquire()
        finally:  # taken, or cancelled while waiting
            with self._changed:
                self._count(waiting=-1)
        try:
            yield
        finally:
            turns.release()

    def wait_until(self, condition: Callable[[DecodeGate], bool], timeout: float) -> bool:
        """Block until ``condition(self)`` holds (re-checked at each change); False after ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: condition(self), timeout)

    def _count(self, *, running: int = 0, waiting: int = 0) -> None:
        self.running += running
        self.waiting += waiting
        self._changed.notify_all()


#: The process's one gate (a per-process resource, like the memory it guards).
decode_gate = DecodeGate(MAX_CONCURRENT_DECODES)

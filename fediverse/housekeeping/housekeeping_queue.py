"""Housekeeping in the worker: a sweep when the worker starts, then every ``SWEEP_INTERVAL_SECONDS``;
the media folder is walked for orphan files at start and every ``ORPHAN_SCAN_INTERVAL_SECONDS``.

Every worker process sweeps on its own clock; sweeps are idempotent, so several at once only repeat
a few cheap queries.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fediverse.housekeeping.sweep import sweep
from fediverse.services import Services

SWEEP_INTERVAL_SECONDS = 15 * 60
#: Orphan files come only from crashes, and wait out a 6-hour grace anyway.
ORPHAN_SCAN_INTERVAL_SECONDS = 6 * 60 * 60


class HousekeepingQueue:
    """A ``WorkQueue`` whose ``run_once`` sweeps when a sweep is due and otherwise returns at once."""

    name = "housekeeping"

    def __init__(
        self,
        services: Services,
        *,
        interval_seconds: float = SWEEP_INTERVAL_SECONDS,
        scan_interval_seconds: float = ORPHAN_SCAN_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.services = services
        self.interval_seconds = interval_seconds
        self.scan_interval_seconds = scan_interval_seconds
        self._clock = clock
        self._due_at = self._scan_due_at = clock()

    async def run_once(self) -> int:
        now = self._clock()
        if now < self._due_at:
            return 0
        self._due_at = now + self.interval_seconds  # set first: a failing sweep waits for the next turn
        scan = now >= self._scan_due_at
        if scan:
            self._scan_due_at = now + self.scan_interval_seconds
        report = await sweep(self.services, orphan_files=scan)
        return report.total

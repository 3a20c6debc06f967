"""A sliding-window limiter for sign-in attempts, kept in the web process's memory.

Failed attempts are counted per client address and per username; a key over its limit is refused
until its oldest attempt leaves the window. With several web processes each keeps its own count, so
the effective limit is multiplied by the process count (docs/decisions/0042).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    def __init__(
        self, limit: int, window_seconds: float, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 50_000
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        cutoff = self.clock() - self.window
        while hits and hits[0] <= cutoff:
            hits.popleft()
        if not hits:
            del self._hits[key]
        return hits

    def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may try again, or ``None`` when it is under its limit."""
        hits = self._recent(key)
        if len(hits) < self.limit:
            return None
        return max(1, math.ceil(hits[0] + self.window - self.clock()))

    def record(self, key: str) -> None:
        if key not in self._hits and len(self._hits) >= self.max_keys:
            self._hits.pop(next(iter(self._hits)))  # forget the oldest key rather than grow without bound
        self._hits.setdefault(key, deque()).append(self.clock())

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)


class LoginThrottle:
    """Failed sign-ins: at most ``per_user`` per username and ``per_address`` per client in ``window``."""

    def __init__(self, *, per_user: int = 8, per_address: int = 30, window_seconds: float = 900) -> None:
        self.by_user = SlidingWindowLimiter(per_user, window_seconds)
        self.by_address = SlidingWindowLimiter(per_address, window_seconds)

    def retry_after(self, username: str, address: str) -> int | None:
        waits = [w for w in (self.by_user.retry_after(username), self.by_address.retry_after(address)) if w]
        return max(waits) if waits else None

    def record_failure(self, username: str, address: str) -> None:
        self.by_user.record(username)
        self.by_address.record(address)

    def record_success(self, username: str) -> None:
        self.by_user.reset(username)

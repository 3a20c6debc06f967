"""In-process caches that every process drops when what they hold changes (decision 0051).

Each cached idea has a *name* (``instance``, ``accounts``, ``posts``; see ``NAMES``). A change bumps its
name with ``bump(session, name)`` inside the transaction that makes it: one upsert of a row in
``cache_stamps``. When that transaction commits, this process's caches of the name are stale at once;
every other process (web or worker, same database) reads ``cache_stamps`` at most once per
``CHECK_INTERVAL`` seconds, on the first cache read after that interval, and drops what a bumped name
held. A reader therefore sees a change made in its own process immediately and one made elsewhere
within about a second. A rolled-back transaction bumps nothing.

Entries are tagged with the *generation* of their names taken before they were loaded: a load that
raced a change is stored already stale and never served. ``Cache`` keeps positive answers only
(a miss on an unknown name costs a query, but cannot fill the cache).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col

from storage.dialects import insert_for
from storage.models import CacheStamp

#: The names: local accounts and their documents; the instance's settings; posts as pages show them.
ACCOUNTS = "accounts"
INSTANCE = "instance"
POSTS = "posts"
NAMES = (ACCOUNTS, INSTANCE, POSTS)

#: How stale another process's change may be here, at most (seconds).
CHECK_INTERVAL = 1.0

_PENDING = "reverie.cache.bumped"
_LISTENING = "reverie.cache.listening"

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
Token = tuple[int, ...]


async def bump(session: AsyncSession, *names: str) -> None:
    """Mark ``names`` changed in the transaction ``session`` is in (call inside a write transaction)."""
    table = CacheStamp.__table__  # type: ignore[attr-defined]
    insert = insert_for(session.get_bind().dialect.name)
    for name in names:
        statement = insert(table).values(name=name, version=1)
        await session.execute(
            statement.on_conflict_do_update(index_elements=["name"], set_={"version": table.c.version + 1})
        )
    stamps = session.info.get("stamps")
    if isinstance(stamps, Stamps) and not session.info.get(_LISTENING):
        session.info[_LISTENING] = True
        event.listen(session.sync_session, "after_commit", _after_commit(stamps))
        event.listen(session.sync_session, "after_rollback", _forget_pending)
    session.info.setdefault(_PENDING, set()).update(names)


def _after_commit(stamps: Stamps) -> Callable[[Session], None]:
    def on_commit(sync_session: Session) -> None:
        stamps.changed_here(sync_session.info.pop(_PENDING, ()))

    return on_commit


def _forget_pending(sync_session: Session) -> None:
    sync_session.info.pop(_PENDING, None)


class Stamps:
    """This process's view of ``cache_stamps``: a generation per name, and the caches that use them."""

    def __init__(self, engine: AsyncEngine, *, interval: float = CHECK_INTERVAL) -> None:
        self._engine = engine
        self._interval = interval
        self._versions: dict[str, int] = {}
        self._generations: dict[str, int] = dict.fromkeys(NAMES, 0)
        self._checked_at = float("-inf")
        self._checking: asyncio.Task[None] | None = None
        self._caches: dict[str, Cache[Any, Any]] = {}

    def changed_here(self, names: Iterable[str]) -> None:
        """A transaction of this process that bumped ``names`` committed."""
        for name in names:
            self._generations[name] = self._generations.get(name, 0) + 1

    async def token(self, names: tuple[str, ...]) -> Token:
        """The generations of ``names``, after reading the stamps if the last read is older than the interval."""
        if time.monotonic() - self._checked_at >= self._interval:
            if self._checking is None:
                self._checking = asyncio.ensure_future(self._check())
            checking = self._checking
            try:
                await asyncio.shield(checking)
            finally:
                if self._checking is checking and checking.done():
                    self._checking = None
        return tuple(self._generations.get(name, 0) for name in names)

    async def _check(self) -> None:
        started = time.monotonic()
        async with self._engine.connect() as connection:
            rows = (await connection.execute(select(col(CacheStamp.name), col(CacheStamp.version)))).all()
        for name, version in rows:
            if self._versions.get(name) != version:
                self._versions[name] = version
                self.changed_here((name,))
        self._checked_at = started

    def cache(self, label: str, on: tuple[str, ...], *, max_entries: int, ttl: float | None = None) -> Cache[Any, Any]:
        """The process's one cache called ``label`` (made on first use), dropped when ``on`` changes."""
        found = self._caches.get(label)
        if found is None:
            found = self._caches[label] = Cache(self, on, max_entries=max_entries, ttl=ttl)
        return found


class Cache(Generic[K, V]):
    """A bounded map (least recently used goes first), valid while its names' generations hold and,
    with ``ttl``, for at most that many seconds."""

    def __init__(self, stamps: Stamps, on: tuple[str, ...], *, max_entries: int, ttl: float | None = None) -> None:
        self._stamps = stamps
        self._on = on
        self._max_entries = max_entries
        self._ttl = ttl
        self._entries: OrderedDict[K, tuple[Token, float, V]] = OrderedDict()

    async def token(self) -> Token:
        return await self._stamps.token(self._on)

    def peek(self, key: K, token: Token) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored_token, expires, value = entry
        if stored_token != token or time.monotonic() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V, token: Token) -> None:
        """Keep ``value``, loaded after ``token`` was taken (so a change since then makes it stale)."""
        expires = time.monotonic() + self._ttl if self._ttl is not None else float("inf")
        self._entries[key] = (token, expires, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    async def get(self, key: K, load: Callable[[], Awaitable[V | None]]) -> V | None:
        """The cached value of ``key``, else ``load()``'s (kept unless it is ``None``)."""
        token = await self.token()
        found = self.peek(key, token)
        if found is not None:
            return found
        value = await load()
        if value is not None:
            self.put(key, value, token)
        return value

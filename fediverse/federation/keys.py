"""Keys: remote actors' public keys for verifying requests, local actors' private keys for signing.

Both are cached in memory once loaded (parsing a PEM costs more than verifying with it); the database
and the remote actor document stay the source of truth.

Any request with a signature naming a key we lack makes us fetch that key, so fetching is bounded
(decision 0023): one fetch in flight per key, shared by every request waiting for it; at most
``KEY_FETCHES_PER_HOST`` at once to one host; a deadline on the whole wait (a free slot and the fetch),
since a request is waiting; a failure remembered for ``FAILED_KEY_MEMORY`` (a host that did not answer
at all, for ``SILENT_HOST_MEMORY``), refused at once meanwhile; and a key fetched less than
``REFRESH_INTERVAL`` ago is not fetched again when a signature does not verify with it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import col

from activitypub.errors import ActivityPubError, FetchError, InvalidDocumentError, KeyUnavailableError
from activitypub.keys import PrivateKey, PublicKey, load_private_key, load_public_key
from activitypub.signatures import ResolvedKey
from fediverse.core.errors import ReverieError
from fediverse.federation.actors_in import host_of
from fediverse.federation.resolve import Resolver
from storage.db import Database
from storage.models import Keypair

MAX_CACHED_KEYS = 10_000
#: How long a request may wait for its signer's key: a free slot for its host, then the fetch.
KEY_FETCH_DEADLINE = 5.0
KEY_FETCHES_PER_HOST = 4
#: Seconds a key that could not be had is refused without asking again.
FAILED_KEY_MEMORY = 300.0
#: Seconds a host that did not answer (timeout, refused connection, no address) gets no key fetches.
SILENT_HOST_MEMORY = 60.0
#: A key fetched this recently (seconds) is not fetched again because a signature failed with it.
REFRESH_INTERVAL = 60.0
MAX_REMEMBERED_FAILURES = 10_000


class _Failures:
    """Recent failures by key (a key id or a host) with their reason, each forgotten after ``ttl``
    seconds, the oldest first beyond ``capacity``."""

    def __init__(self, ttl: float, clock: Callable[[], float], capacity: int = MAX_REMEMBERED_FAILURES) -> None:
        self.ttl = ttl
        self.clock = clock
        self.capacity = capacity
        self._until: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def recall(self, key: str) -> str | None:
        remembered = self._until.get(key)
        if remembered is None:
            return None
        if remembered[0] <= self.clock():
            del self._until[key]
            return None
        return remembered[1]

    def note(self, key: str, reason: str) -> None:
        self._until.pop(key, None)
        self._until[key] = (self.clock() + self.ttl, reason)
        while len(self._until) > self.capacity:
            self._until.popitem(last=False)


@dataclass
class _HostSlot:
    limit: asyncio.Semaphore
    users: int = 0


@dataclass(frozen=True)
class _CachedKey:
    owner_id: str
    public_key: PublicKey
    #: When it was fetched from its owner's server (``time.monotonic``); ``None`` when read from the database.
    fetched_at: float | None


class KeyStore:
    def __init__(
        self,
        db: Database,
        resolver: Resolver,
        *,
        max_cached: int = MAX_CACHED_KEYS,
        fetch_deadline: float = KEY_FETCH_DEADLINE,
        per_host: int = KEY_FETCHES_PER_HOST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.resolver = resolver
        self.max_cached = max_cached
        self.fetch_deadline = fetch_deadline
        self.per_host = per_host
        self.clock = clock
        self._public: OrderedDict[str, _CachedKey] = OrderedDict()
        self._private: dict[int, tuple[str, PrivateKey]] = {}
        self._fetches: dict[tuple[str, bool], asyncio.Task[_CachedKey]] = {}
        self._hosts: dict[str, _HostSlot] = {}
        self._failed_keys = _Failures(FAILED_KEY_MEMORY, clock)
        self._silent_hosts = _Failures(SILENT_HOST_MEMORY, clock)

    async def resolve(self, key_id: str, *, refresh: bool) -> ResolvedKey:
        """The ``KeyResolver`` for ``activitypub.signatures.verify_request``: owner and public key of
        ``key_id``; ``refresh`` fetches the owner's document again (key rotation), unless it was fetched
        less than ``REFRESH_INTERVAL`` ago. ``KeyUnavailableError`` when the key cannot be had in time."""
        cached = self._public.get(key_id)
        if cached is not None and not (refresh and self._may_refresh(cached)):
            self._public.move_to_end(key_id)
            return self._resolved(key_id, cached)
        if not refresh:
            stored = await self.resolver.stored_actor_for_key(key_id)
            if stored is not None:
                # A key that does not parse (a damaged Update{Person}) is fetched again below.
                with suppress(InvalidDocumentError):
                    loaded = _CachedKey(stored.ap_id, load_public_key(stored.public_key_pem or ""), None)
                    return self._resolved(key_id, self._keep(key_id, loaded))
                refresh = True
        return self._resolved(key_id, self._keep(key_id, await self._fetch_shared(key_id, refresh)))

    def forget(self, key_id: str | None) -> None:
        """Drop a cached public key, e.g. after its owner sent an Update (the key may have rotated)."""
        if key_id is not None:
            self._public.pop(key_id, None)

    async def aclose(self) -> None:
        """Stop the key fetches still running (their requests are gone)."""
        tasks = list(self._fetches.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _may_refresh(self, cached: _CachedKey) -> bool:
        return cached.fetched_at is None or self.clock() - cached.fetched_at >= REFRESH_INTERVAL

    def _resolved(self, key_id: str, cached: _CachedKey) -> ResolvedKey:
        return ResolvedKey(
            key_id=key_id,
            owner_id=cached.owner_id,
            public_key=cached.public_key,
            fresh=not self._may_refresh(cached),
        )

    def _keep(self, key_id: str, cached: _CachedKey) -> _CachedKey:
        self._public[key_id] = cached
        self._public.move_to_end(key_id)
        while len(self._public) > self.max_cached:
            self._public.popitem(last=False)
        return cached

    def _refuse_if_failed_recently(self, key_id: str) -> None:
        host = host_of(key_id)
        if (reason := self._silent_hosts.recall(host)) is not None:
            raise KeyUnavailableError(f"the signer's server did not answer a moment ago ({reason}); try again later")
        if (reason := self._failed_keys.recall(key_id)) is not None:
            raise KeyUnavailableError(f"the signer's key could not be fetched a moment ago ({reason}); try again later")

    async def _fetch_shared(self, key_id: str, refresh: bool) -> _CachedKey:
        """The key fetched from its owner's server; requests that want the same one share one fetch."""
        self._refuse_if_failed_recently(key_id)
        token = (key_id, refresh)
        task = self._fetches.get(token)
        if task is None:
            task = asyncio.create_task(self._fetch(key_id, refresh), name=f"fetch key {key_id}")
            self._fetches[token] = task
            task.add_done_callback(lambda done: self._fetch_done(token, done))
        # Shielded: one waiter going away (a client hanging up) does not cancel the others' fetch.
        return await asyncio.shield(task)

    def _fetch_done(self, token: tuple[str, bool], task: asyncio.Task[_CachedKey]) -> None:
        if self._fetches.get(token) is task:
            del self._fetches[token]
        if not task.cancelled():
            task.exception()  # retrieved here: every request that waited for it may be gone

    async def _fetch(self, key_id: str, refresh: bool) -> _CachedKey:
        host = host_of(key_id)
        try:
            async with asyncio.timeout(self.fetch_deadline), self._slot(host):
                self._refuse_if_failed_recently(key_id)  # while we waited for the slot, it may have failed
                try:
                    return await self._fetch_key(key_id, refresh)
                except (ActivityPubError, ReverieError) as error:
                    self._failed_keys.note(key_id, str(error))
                    if isinstance(error, FetchError) and error.status is None and host:
                        self._silent_hosts.note(host, str(error))
                    raise
        except TimeoutError:
            reason = f"fetching the signer's key took longer than {self.fetch_deadline:g} s"
            self._failed_keys.note(key_id, reason)
            if host:
                self._silent_hosts.note(host, reason)
            raise KeyUnavailableError(reason, detail=key_id) from None

    async def _fetch_key(self, key_id: str, refresh: bool) -> _CachedKey:
        actor = await self.resolver.actor_for_key(key_id, refresh=refresh)
        try:
            # No key (a deleted account) or one that does not parse (a damaged Update{Person}): ask its
            # owner's server once more before giving up.
            public_key = load_public_key(actor.public_key_pem or "")
        except InvalidDocumentError:
            if refresh:
                raise KeyUnavailableError("the key's owner has no usable public key", detail=key_id) from None
            return await self._fetch_key(key_id, refresh=True)
        return _CachedKey(actor.ap_id, public_key, self.clock())

    @asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        """One of the ``per_host`` fetches that may run at once to ``host``."""
        slot = self._hosts.setdefault(host, _HostSlot(asyncio.Semaphore(self.per_host)))
        slot.users += 1
        try:
            async with slot.limit:
                yield
        finally:
            slot.users -= 1
            if not slot.users:
                del self._hosts[host]

    async def signing_key(self, actor_id: int) -> tuple[str, PrivateKey]:
        """``(key_id, private_key)`` of a local actor."""
        cached = self._private.get(actor_id)
        if cached is not None:
            return cached
        async with self.db.session() as session:
            keypair = await session.scalar(
                select(Keypair).where(col(Keypair.actor_id) == actor_id).order_by(col(Keypair.id).desc())
            )
        if keypair is None:
            raise LookupError(f"local actor {actor_id} has no key")
        loaded = (keypair.key_id, load_private_key(keypair.private_key_pem))
        self._private[actor_id] = loaded
        return loaded

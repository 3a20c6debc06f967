"""What every inbox handler needs, and the small lookups they share.

Handlers run in one of two ways. Alone (``batch is None``): each write is its own transaction and network
lookups happen between them. In a batch (``fediverse.federation.inbox.inbox_queue``): every handler of the
batch runs inside one write transaction, each in its own savepoint, so ``writing()`` and ``reading()``
hand out that transaction's session; anything that would need the network (or a long purge) raises
``ApplyAlone`` instead, the savepoint rolls back, and the item is applied alone after the batch commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from activitypub.errors import InvalidDocumentError
from activitypub.vocab import get_id
from fediverse.core.urls import Urls
from fediverse.federation.resolve import Resolver, believed_copy, deleted_by_author
from storage.db import Database
from storage.models import Actor, DeletedObject, Post


class ApplyAlone(Exception):
    """Raised by a handler running in a batch when it needs what a batch must not do while holding the
    writer (the network, or a purge in many steps); the item is applied alone after the batch."""


@dataclass
class Batch:
    """One write transaction shared by a batch of inbox items, and what its items look up alike."""

    session: AsyncSession
    #: Object ids no post had when the batch began (less those the batch stored since).
    absent_posts: set[str] = field(default_factory=set)
    #: ``DeletedObject`` markers for the ids in ``absent_posts``: object id -> the deleting actor's id.
    deleted_markers: dict[str, str] = field(default_factory=dict)
    #: Local actors' ids by actor id (``None``: not a local actor).
    local_actor_ids: dict[str, int | None] = field(default_factory=dict)

    async def prefetch_posts(self, ap_ids: Collection[str]) -> None:
        """Learn in two queries which of ``ap_ids`` are new here, and who deleted them in advance."""
        wanted = [ap_id for ap_id in set(ap_ids) if ap_id]
        if not wanted:
            return
        known = set(await self.session.scalars(select(col(Post.ap_id)).where(col(Post.ap_id).in_(wanted))))
        self.absent_posts.update(set(wanted) - known)
        markers = await self.session.execute(
            select(col(DeletedObject.ap_id), col(DeletedObject.actor_ap_id)).where(col(DeletedObject.ap_id).in_(wanted))
        )
        self.deleted_markers.update({ap_id: actor_ap_id for ap_id, actor_ap_id in markers})

    def forget(self) -> None:
        """After a savepoint rolled back: what this batch believed may be wrong now; look things up again."""
        self.absent_posts.clear()
        self.deleted_markers.clear()
        self.local_actor_ids.clear()
        self.session.expunge_all()


@dataclass(frozen=True)
class IngestContext:
    db: Database
    urls: Urls
    resolver: Resolver
    #: Drops a cached public key (after a profile update may have rotated it).
    forget_key: Callable[[str | None], None]
    #: Set while the handler runs inside a batch's transaction.
    batch: Batch | None = None

    def in_batch(self, batch: Batch) -> IngestContext:
        return replace(self, batch=batch)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A session to write in: the batch's (inside the item's savepoint), or a transaction of its own."""
        if self.batch is not None:
            yield self.batch.session
            return
        async with self.db.transaction() as session:
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session to read in: the batch's (which sees what earlier items wrote), or a read session."""
        if self.batch is not None:
            yield self.batch.session
            return
        async with self.db.session() as session:
            yield session

    def alone_only(self, why: str) -> None:
        """Raise ``ApplyAlone`` in a batch: what comes next must not run while the batch holds the writer."""
        if self.batch is not None:
            raise ApplyAlone(why)

    async def authentic_object(self, object_id: str, embedded: dict[str, Any] | None, *, sender: str) -> dict[str, Any]:
        """``Resolver.authentic_object``; in a batch only a copy believed without fetching is used."""
        if self.batch is not None:
            copy = believed_copy(object_id, embedded, sender=sender)
            if copy is None:
                raise ApplyAlone(f"fetching {object_id}")
            return copy
        return await self.resolver.authentic_object(object_id, embedded, sender=sender)

    async def local_actor_id(self, session: AsyncSession, ap_id: str) -> int | None:
        """The id of the local actor ``ap_id`` (remembered for the rest of a batch)."""
        cache = self.batch.local_actor_ids if self.batch is not None else None
        if cache is not None and ap_id in cache:
            return cache[ap_id]
        found = await local_actor(session, ap_id)
        if cache is not None:
            cache[ap_id] = found.id if found is not None else None
        return found.id if found is not None else None

    async def is_new_post(self, session: AsyncSession, ap_id: str, author_ap_id: str) -> bool:
        """Whether no post has ``ap_id`` and its author did not delete it before it arrived."""
        if self.batch is not None and ap_id in self.batch.absent_posts:
            return self.batch.deleted_markers.get(ap_id) != author_ap_id
        return not await deleted_by_author(session, ap_id, author_ap_id) and await post_by_id(session, ap_id) is None

    def stored(self, ap_id: str) -> None:
        """A post ``ap_id`` was stored in the batch: it is no longer absent."""
        if self.batch is not None:
            self.batch.absent_posts.discard(ap_id)

    def deleted_in_advance(self, ap_id: str, actor_ap_id: str) -> None:
        if self.batch is not None:
            self.batch.deleted_markers[ap_id] = actor_ap_id


def object_id(activity: dict[str, Any]) -> str:
    """The id of the activity's object (an IRI or an embedded object), or ``InvalidDocumentError``."""
    found = get_id(activity.get("object"))
    if not found:
        raise InvalidDocumentError("the activity has no object")
    return found


def embedded_object(activity: dict[str, Any]) -> dict[str, Any] | None:
    value = activity.get("object")
    return value if isinstance(value, dict) else None


async def local_actor(session: AsyncSession, ap_id: str) -> Actor | None:
    return await session.scalar(select(Actor).where(col(Actor.ap_id) == ap_id, col(Actor.is_local).is_(True)))


async def post_by_id(session: AsyncSession, ap_id: str) -> Post | None:
    return await session.scalar(select(Post).where(col(Post.ap_id) == ap_id))


async def reload(session: AsyncSession, actor: Actor) -> Actor:
    """The same actor, attached to ``session``."""
    attached = await session.get(Actor, actor.id)
    if attached is None:
        raise InvalidDocumentError("the actor vanished")
    return attached

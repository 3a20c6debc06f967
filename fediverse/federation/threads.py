"""Keeping threads whole: linking stored replies to a parent that arrives later, and queueing the remote
fetches (a missing parent, a replies collection) that the worker's ``ThreadFetchQueue`` runs
(decision 0015). Everything here runs inside the caller's write transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col

from activitypub.vocab import get_id
from fediverse.core.domain_blocks import blocked_hosts
from fediverse.core.urls import Urls
from fediverse.federation.actors_in import host_of
from storage.dialects import insert_for
from storage.models import Actor, FetchKind, Post, RemoteFetch, WorkState
from storage.types import utcnow

#: Ancestors fetched above a reply that arrived by itself. Each step costs a signed GET and a row, and
#: a hostile chain of made-up parents must end; five covers the conversations people read (decision 0015).
MAX_ANCESTORS = 5


async def link_replies(session: AsyncSession, post: Post) -> None:
    """Point replies we stored before ``post`` at it (one UPDATE)."""
    await session.execute(
        update(Post)
        .where(col(Post.in_reply_to_ap_id) == post.ap_id, col(Post.in_reply_to_id).is_(None), col(Post.id) != post.id)
        .values(in_reply_to_id=post.id)
        .execution_options(synchronize_session=False)
    )


async def queue_parent_fetch(session: AsyncSession, urls: Urls, post: Post, *, depth: int = 1) -> bool:
    """Queue the fetch of the post ``post`` answers, when we lack it, it is remote, not under a domain
    block, and ``depth`` (its distance from the reply that started the walk) is within the bound."""
    parent_id = post.in_reply_to_ap_id
    if not parent_id or post.in_reply_to_id is not None or depth > MAX_ANCESTORS or urls.is_local(parent_id):
        return False
    if not parent_id.startswith(("https://", "http://")) or await blocked_hosts(session, [host_of(parent_id)]):
        return False
    if await session.scalar(select(col(Post.id)).where(col(Post.ap_id) == parent_id)) is not None:
        return False
    await _insert_fetch(session, FetchKind.NOTE, parent_id, depth)
    return True


async def queue_quote_fetch(session: AsyncSession, urls: Urls, post: Post) -> bool:
    """Queue the fetch of the post ``post`` quotes, when we lack it, it is remote and not under a domain block
    (decision 0064). One step only: a quoted post's own quote is not fetched in turn."""
    quoted = post.quote_ap_id
    if not quoted or urls.is_local(quoted) or not quoted.startswith(("https://", "http://")):
        return False
    if await blocked_hosts(session, [host_of(quoted)]):
        return False
    if await session.scalar(select(col(Post.id)).where(col(Post.ap_id) == quoted)) is not None:
        return False
    await _insert_fetch(session, FetchKind.QUOTE, quoted, 0)
    return True


def featured_url(actor: Actor) -> str | None:
    """A remote actor's ``featured`` collection (its pinned posts), when its document names one on its own
    server; nobody else speaks for an actor's pins."""
    url = get_id((actor.raw or {}).get("featured"))
    if actor.is_local or not url or not url.startswith(("https://", "http://")):
        return None
    return url if host_of(url) == host_of(actor.ap_id) else None


async def queue_featured_fetch(session: AsyncSession, actor: Actor) -> bool:
    """Queue (again, once finished) the fetch of a remote actor's pinned posts, when it has a ``featured``
    collection and its server is not blocked."""
    if featured_url(actor) is None or await blocked_hosts(session, [host_of(actor.ap_id)]):
        return False
    await _queue_again(session, FetchKind.FEATURED, actor.ap_id)
    return True


async def queue_replies_fetch(session: AsyncSession, post: Post) -> None:
    """Queue (again, once finished) the fetch of a remote post's replies collection."""
    await _queue_again(session, FetchKind.REPLIES, post.ap_id)


async def queue_origin_fetch(session: AsyncSession, kind: str, target: str) -> None:
    """Queue (again, once finished) the fetch of ``target`` from its origin for a forwarded activity
    (``FetchKind.FORWARDED`` or ``DELETION``, decision 0058); one row per kind and target, so forwards of the
    same object while one is queued cost nothing more."""
    await _queue_again(session, kind, target)


async def _queue_again(session: AsyncSession, kind: str, target: str) -> None:
    await _insert_fetch(session, kind, target, 0)
    await session.execute(
        update(RemoteFetch)
        .where(
            col(RemoteFetch.kind) == kind,
            col(RemoteFetch.target_ap_id) == target,
            col(RemoteFetch.state) != WorkState.QUEUED,
        )
        .values(state=WorkState.QUEUED, attempts=0, next_attempt_at=utcnow(), last_error=None, finished_at=None)
    )


async def is_fetching_replies(session: AsyncSession, post: Post) -> bool:
    return await session.run_sync(fetching_replies, post)


def fetching_replies(session: Session, post: Post) -> bool:
    """Whether a fetch of ``post``'s replies is queued (in a unit of work)."""
    state = session.scalar(
        select(col(RemoteFetch.state)).where(
            col(RemoteFetch.kind) == FetchKind.REPLIES, col(RemoteFetch.target_ap_id) == post.ap_id
        )
    )
    return state == WorkState.QUEUED


def replies_collection(post: Post) -> Any:
    """The ``replies`` of a remote post's note (an id or an embedded collection), if it had one on its own
    server; ``None`` for local posts."""
    if post.is_local or not isinstance(post.raw, dict):
        return None
    replies = post.raw.get("replies")
    collection_id = get_id(replies)
    if not collection_id or host_of(collection_id) != host_of(post.ap_id):
        return None
    return replies


async def _insert_fetch(session: AsyncSession, kind: str, target: str, depth: int) -> None:
    """One row per kind and target; a second request while one exists is a no-op (``ON CONFLICT``)."""
    dialect_insert = insert_for(session.get_bind().dialect.name)
    now = utcnow()
    await session.execute(
        dialect_insert(RemoteFetch)
        .values(
            kind=kind,
            target_ap_id=target,
            depth=depth,
            state=WorkState.QUEUED,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["kind", "target_ap_id"])
    )

"""The remote fetches that complete a thread (decision 0015), run by ``ThreadFetchQueue``:

- ``fetch_ancestor``: a post a stored reply answers, fetched signed from its own origin through the
  ``Resolver`` (which believes a note only from its author's server) and stored as context, without
  notifying anyone; the walk goes on to its own parent up to ``threads.MAX_ANCESTORS``.
- ``fetch_quoted``: a post a stored post quotes, fetched and stored the same way, for the quote card.
- ``fetch_featured``: a remote actor's pinned posts, the first ``MAX_FEATURED`` items of its ``featured``
  collection (on its own server; each post believed from its own server and kept only if the actor wrote
  it), stored and marked pinned in the collection's order; the actor's other posts are unpinned.
- ``fetch_replies``: the first pages of a remote post's ``replies`` collection (Mastodon's
  ``FetchRepliesService`` reads a bounded number of them too). The collection and its pages are the post's
  server's word, so they must be on its server; an entry they embed is believed or fetched again from its
  own id by ``Resolver.authentic_object`` (the post's server speaks only for its own notes), and kept only
  if it really answers the post.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from activitypub.errors import FetchError, GoneError, InvalidDocumentError
from activitypub.vocab import as_list, get_id
from fediverse.core.domain_blocks import blocked_hosts
from fediverse.core.errors import Forbidden
from fediverse.federation.actors_in import host_of
from fediverse.federation.resolve import Resolver
from fediverse.federation.threads import featured_url, queue_parent_fetch, replies_collection
from storage.models import Actor, Post
from storage.types import utcnow

log = logging.getLogger(__name__)

#: Replies read from one collection, and pages followed to find them.
MAX_REPLIES = 40
MAX_PAGES = 5
#: Pinned posts read from an actor's ``featured`` collection (Mastodon lets its users pin 5).
MAX_FEATURED = 10


async def fetch_ancestor(resolver: Resolver, target: str, depth: int) -> None:
    """Store the post ``target`` (``depth`` levels above the reply that asked) and queue its parent."""
    await _refuse_blocked(resolver, target)
    post = await resolver.note(target)
    if post is None:  # deleted, or one of ours that no longer exists
        return
    async with resolver.db.transaction() as session:
        stored = await session.get(Post, post.id)
        if stored is not None:
            await queue_parent_fetch(session, resolver.urls, stored, depth=depth + 1)


async def fetch_quoted(resolver: Resolver, target: str) -> None:
    """Store the post ``target`` that a stored post quotes, for its quote card (decision 0064); whether a
    reader sees it is the one read rule's to say when the card is drawn."""
    await _refuse_blocked(resolver, target)
    await resolver.note(target)


async def fetch_replies(resolver: Resolver, post_ap_id: str) -> int:
    """Store up to ``MAX_REPLIES`` replies from the post's collection; how many are now stored."""
    async with resolver.db.session() as session:
        post = await session.scalar(select(Post).where(col(Post.ap_id) == post_ap_id))
    if post is None or post.deleted_at is not None:
        return 0
    collection = replies_collection(post)
    if collection is None:
        return 0
    origin = host_of(post.ap_id)
    if not isinstance(collection, dict):
        collection = await _origin_document(resolver, str(collection), origin)
    entries = await _collection_entries(resolver, collection, origin)
    stored = 0
    for entry in entries[:MAX_REPLIES]:
        stored += await _store_reply(resolver, post, entry)
    return stored


async def fetch_featured(resolver: Resolver, actor_ap_id: str) -> int:
    """Store the remote actor's pinned posts from its ``featured`` collection and mark them pinned (and no
    others); how many are pinned now."""
    async with resolver.db.session() as session:
        actor = await session.scalar(select(Actor).where(col(Actor.ap_id) == actor_ap_id))
    url = featured_url(actor) if actor is not None else None
    if actor is None or actor.id is None or url is None:
        return 0
    origin = host_of(actor.ap_id)
    collection = await _origin_document(resolver, url, origin)
    entries = await _collection_entries(resolver, collection, origin, limit=MAX_FEATURED)
    pinned: list[int] = []
    for entry in entries[:MAX_FEATURED]:
        post_id = await _store_pinned(resolver, actor, entry)
        if post_id is not None and post_id not in pinned:
            pinned.append(post_id)
    async with resolver.db.transaction() as session:
        await set_pinned(session, actor.id, pinned)
    return len(pinned)


async def set_pinned(session: AsyncSession, author_id: int, post_ids: list[int]) -> None:
    """Make ``post_ids`` (newest pin first) the remote author's pins: a post pinned before keeps its time."""
    await session.execute(
        update(Post)
        .where(col(Post.author_id) == author_id, col(Post.pinned_at).is_not(None), col(Post.id).not_in(post_ids))
        .values(pinned_at=None)
        .execution_options(synchronize_session=False)
    )
    now = utcnow()
    for place, post_id in enumerate(post_ids):
        await session.execute(
            update(Post)
            .where(col(Post.id) == post_id, col(Post.author_id) == author_id)
            .values(pinned_at=now - timedelta(seconds=place))
            .execution_options(synchronize_session=False)
        )


async def _store_pinned(resolver: Resolver, actor: Actor, entry: Any) -> int | None:
    """The id of the stored post ``entry`` names when the actor wrote it; a bad entry is skipped."""
    post_id = get_id(entry)
    if not post_id or resolver.urls.is_local(post_id):
        return None
    try:
        embedded = entry if isinstance(entry, dict) else None
        post = await resolver.note(post_id, embedded=embedded, sender=actor.ap_id)
    except (FetchError, GoneError, InvalidDocumentError, Forbidden) as error:
        log.info("skipped pinned post %s of %s: %s", post_id, actor.ap_id, error)
        return None
    return post.id if post is not None and post.author_id == actor.id and post.deleted_at is None else None


async def _origin_document(resolver: Resolver, url: str, origin: str) -> dict[str, Any]:
    """A collection or page fetched from the post's server, which must still be the server it comes from."""
    document = await resolver.authentic_object(url, alias_ok=True)
    if host_of(get_id(document) or "") != origin:
        raise InvalidDocumentError("the collection is not on the post's server")
    return document


async def _collection_entries(
    resolver: Resolver, collection: dict[str, Any], origin: str, *, limit: int = MAX_REPLIES
) -> list[Any]:
    """Items of the collection and of its pages, following ``first`` then ``next`` on the same server, until
    ``limit`` are found."""
    entries = _items(collection)
    page: Any = collection.get("first")
    for _ in range(MAX_PAGES):
        if page is None or len(entries) >= limit:
            break
        if not isinstance(page, dict):
            page_id = get_id(page)
            if not page_id or host_of(page_id) != origin:
                break  # pages are the post's server's word; another server's are not asked
            page = await _origin_document(resolver, page_id, origin)
        entries += _items(page)
        page = page.get("next")
    return entries


def _items(page: dict[str, Any]) -> list[Any]:
    return [*as_list(page.get("orderedItems")), *as_list(page.get("items"))]


async def _store_reply(resolver: Resolver, post: Post, entry: Any) -> int:
    """1 when ``entry`` is a reply to ``post`` that is now stored; a bad entry is skipped, not fatal."""
    reply_id = get_id(entry)
    if not reply_id or resolver.urls.is_local(reply_id):
        return 0
    try:
        await _refuse_blocked(resolver, reply_id)
        embedded = entry if isinstance(entry, dict) else None
        document = await resolver.authentic_object(reply_id, embedded, sender=post.ap_id)
        if get_id(document.get("inReplyTo")) != post.ap_id:
            return 0
        return int(await resolver.store_note(document) is not None)
    except (FetchError, GoneError, InvalidDocumentError, Forbidden) as error:
        log.info("skipped reply %s of %s: %s", reply_id, post.ap_id, error)
        return 0


async def _refuse_blocked(resolver: Resolver, url: str) -> None:
    async with resolver.db.session() as session:
        if await blocked_hosts(session, [host_of(url)]):
            raise Forbidden("the domain is blocked", detail=url)

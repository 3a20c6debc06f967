"""The remote fetches that complete a thread (decision 0015), run by ``ThreadFetchQueue``:

- ``fetch_ancestor``: a post a stored reply answers, fetched signed from its own origin through the
  ``Resolver`` (which believes a note only from its author's server) and stored as context, without
  notifying anyone; the walk goes on to its own parent up to ``threads.MAX_ANCESTORS``.
- ``fetch_quoted``: a post a stored post quotes, fetched and stored the same way, for the quote card.
- ``fetch_replies``: the first pages of a remote post's ``replies`` collection (Mastodon's
  ``FetchRepliesService`` reads a bounded number of them too). The collection and its pages are the post's
  server's word, so they must be on its server; an entry they embed is believed or fetched again from its
  own id by ``Resolver.authentic_object`` (the post's server speaks only for its own notes), and kept only
  if it really answers the post.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from activitypub.errors import FetchError, GoneError, InvalidDocumentError
from activitypub.vocab import as_list, get_id
from fediverse.core.domain_blocks import blocked_hosts
from fediverse.core.errors import Forbidden
from fediverse.federation.actors_in import host_of
from fediverse.federation.resolve import Resolver
from fediverse.federation.threads import queue_parent_fetch, replies_collection
from storage.models import Post

log = logging.getLogger(__name__)

#: Replies read from one collection, and pages followed to find them.
MAX_REPLIES = 40
MAX_PAGES = 5


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


async def _origin_document(resolver: Resolver, url: str, origin: str) -> dict[str, Any]:
    """A collection or page fetched from the post's server, which must still be the server it comes from."""
    document = await resolver.authentic_object(url, alias_ok=True)
    if host_of(get_id(document) or "") != origin:
        raise InvalidDocumentError("the collection is not on the post's server")
    return document


async def _collection_entries(resolver: Resolver, collection: dict[str, Any], origin: str) -> list[Any]:
    """Items of the collection and of its pages, following ``first`` then ``next`` on the same server."""
    entries = _items(collection)
    page: Any = collection.get("first")
    for _ in range(MAX_PAGES):
        if page is None or len(entries) >= MAX_REPLIES:
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

"""The remote fetches that complete a thread (decision 0015), run by ``ThreadFetchQueue``:

- ``fetch_ancestor``: a post a stored reply answers, fetched signed from its own origin through the
  ``Resolver`` (which believes a note only from its author's server) and stored as context, without
  notifying anyone; the walk goes on to its own parent up to ``threads.MAX_ANCESTORS``.
- ``fetch_replies``: the first pages of a remote post's ``replies`` collection (Mastodon's
  ``FetchRepliesService`` reads a bounded number of them too). An entry embedded by the post's own server
  is believed as sent; one whose id is on another server is fetched from that id, and kept only if it
  really answers the post.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from activitypub.errors import FetchError, GoneError, InvalidDocumentError
from activitypub.vocab import as_list, get_id
from fediverse.errors import Forbidden
from fediverse.federation.actors_in import host_of
from fediverse.federation.resolve import Resolver
from fediverse.federation.threads import queue_parent_fetch, replies_collection
from fediverse.moderation import blocked_hosts
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


async def fetch_replies(resolver: Resolver, post_ap_id: str) -> int:
    """Store up to ``MAX_REPLIES`` replies from the post's collection; how many are now stored."""
    async with resolver.db.session() as session:
        post = await session.scalar(select(Post).where(Post.ap_id == post_ap_id))
    if post is None or post.deleted_at is not None:
        return 0
    collection = replies_collection(post)
    if collection is None:
        return 0
    origin = host_of(post.ap_id)
    if not isinstance(collection, dict):
        collection = await resolver.fetch_document(str(collection))
    entries = await _collection_entries(resolver, collection, origin)
    stored = 0
    for entry in entries[:MAX_REPLIES]:
        stored += await _store_reply(resolver, post, entry, origin)
    return stored


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
            page = await resolver.fetch_document(page_id)
        entries += _items(page)
        page = page.get("next")
    return entries


def _items(page: dict[str, Any]) -> list[Any]:
    return [*as_list(page.get("orderedItems")), *as_list(page.get("items"))]


async def _store_reply(resolver: Resolver, post: Post, entry: Any, origin: str) -> int:
    """1 when ``entry`` is a reply to ``post`` that is now stored; a bad entry is skipped, not fatal."""
    reply_id = get_id(entry)
    if not reply_id or resolver.urls.is_local(reply_id):
        return 0
    try:
        await _refuse_blocked(resolver, reply_id)
        # Embedded by the post's own server: believed for its own notes only; others come from their id.
        document = entry if isinstance(entry, dict) and host_of(reply_id) == origin else None
        if document is None:
            document = await resolver.fetch_document(reply_id)
        if get_id(document.get("inReplyTo")) != post.ap_id:
            return 0
        return int(await resolver.note(reply_id, document=document) is not None)
    except (FetchError, GoneError, InvalidDocumentError, Forbidden) as error:
        log.info("skipped reply %s of %s: %s", reply_id, post.ap_id, error)
        return 0


async def _refuse_blocked(resolver: Resolver, url: str) -> None:
    async with resolver.db.session() as session:
        if await blocked_hosts(session, [host_of(url)]):
            raise Forbidden("the domain is blocked", detail=url)

"""A remote actor's pins as they change (Mastodon's ``Add``/``Remove`` with its ``featured`` collection as
``target``): only the actor itself speaks for its collection, and only its own posts are pinned. A post we
do not have yet is read with the collection again by the thread-fetch queue (``FetchKind.FEATURED``), never
fetched here. Other collections' ``Add``/``Remove`` are not ours to follow and are dropped."""

from __future__ import annotations

from typing import Any

from activitypub.vocab import get_id
from fediverse.federation.inbox.context import IngestContext, object_id, post_by_id, reload
from fediverse.federation.threads import featured_url, queue_featured_fetch
from storage.models import Actor
from storage.types import utcnow


async def handle_add(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    await _change_pin(context, actor, activity, pin=True)


async def handle_remove(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    await _change_pin(context, actor, activity, pin=False)


async def _change_pin(context: IngestContext, actor: Actor, activity: dict[str, Any], *, pin: bool) -> None:
    target = get_id(activity.get("target"))
    async with context.writing() as session:
        author = await reload(session, actor)
        featured = featured_url(author)
        if featured is None or target != featured:
            return  # not the actor's pins (or it has none we know of)
        post = await post_by_id(session, object_id(activity))
        if post is None:
            if pin:
                await queue_featured_fetch(session, author)
            return
        if post.author_id != author.id or post.deleted_at is not None:
            return
        if pin and post.pinned_at is None:
            post.pinned_at = utcnow()
        elif not pin:
            post.pinned_at = None

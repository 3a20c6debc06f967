"""Like and Announce from remote actors."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import col

from fediverse.core.interaction_policy import BOOSTABLE, LIKE
from fediverse.federation.actors_in import parse_datetime
from fediverse.federation.inbox.context import IngestContext, embedded_object, object_id, post_by_id, reload
from fediverse.social.approvals import accept_if_awaited
from fediverse.social.interactions import receive_announce, receive_like
from storage.models import Actor, Follow, FollowState
from storage.types import utcnow


async def handle_like(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    """A like of a local post (likes of other servers' posts are not ours to count)."""
    target = object_id(activity)
    if not context.urls.is_local(target):
        return
    async with context.writing() as session:
        post = await post_by_id(session, target)
        if post is None or post.deleted_at is not None:
            return
        liker = await reload(session, actor)
        like = await receive_like(session, liker, post, str(activity["id"]))
        if like is not None and like.id is not None:
            await accept_if_awaited(session, context.urls, post, liker, LIKE, like.id, activity)


async def handle_announce(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    """A boost: of a local post (notify its author), or of any post by an account someone here follows
    (it joins their home feeds; the post is fetched from its origin if we do not have it)."""
    target = object_id(activity)
    published = parse_datetime(activity.get("published")) or utcnow()
    if not context.urls.is_local(target):
        async with context.reading() as session:
            followed = await session.scalar(
                select(col(Follow.id))
                .where(col(Follow.followee_id) == actor.id, col(Follow.state) == FollowState.ACCEPTED)
                .limit(1)
            )
        if followed is None:
            return
        async with context.reading() as session:
            known = await post_by_id(session, target)
        if known is None:
            context.alone_only(f"fetching {target}")  # in a batch: the note is fetched once it has committed
            boosted = await context.resolver.note(target, embedded=embedded_object(activity), sender=actor.ap_id)
        else:
            boosted = known if known.deleted_at is None else None
        if boosted is None:
            return
        target = boosted.ap_id  # the object may be named by its URL (Mastodon's /@user/id); the post has its id
    async with context.writing() as session:
        post = await post_by_id(session, target)
        if post is None or post.deleted_at is not None or post.visibility not in BOOSTABLE:
            return  # only public and unlisted posts can be boosted (Mastodon ignores the rest too)
        await receive_announce(session, await reload(session, actor), post, str(activity["id"]), published)

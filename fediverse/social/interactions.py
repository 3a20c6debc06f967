"""Likes and boosts (``Announce``), given and received. Call inside a write transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from activitypub.vocab import JsonObject
from fediverse.core import interaction_policy as rule
from fediverse.core.errors import Forbidden, NotFound, UnprocessableEntity
from fediverse.core.interaction_policy import BOOSTABLE
from fediverse.core.urls import Urls
from fediverse.core.visibility import can_see
from fediverse.federation.activities import announce_activity, like_activity, new_activity_id, undo_activity
from fediverse.federation.interaction_policies import approval_terms
from fediverse.federation.outbox import follower_inboxes, inbox_of, queue_activity
from fediverse.reads.interaction_permissions import permissions
from fediverse.reads.post_views import load_post_views
from fediverse.social.notifications import notify, withdraw_notification
from storage.models import Actor, Announce, Approval, Like, NotificationType, Post
from storage.types import utcnow


async def like_post(session: AsyncSession, urls: Urls, actor: Actor, post: Post, author: Actor) -> Like:
    """A local account likes ``post``; its remote author receives a ``Like``."""
    assert actor.id is not None and author.id is not None
    await _refuse_unseen(session, actor, post)
    existing = await session.scalar(select(Like).where(col(Like.actor_id) == actor.id, col(Like.post_id) == post.id))
    if existing is not None:
        return existing
    verdict = await permitted(session, actor, post, rule.LIKE)
    like = Like(actor_id=actor.id, post_id=post.id, ap_id=new_activity_id(urls, actor.username))
    if verdict.needs_accept and not author.is_local:
        like.approval = Approval.PENDING  # a Like goes to the author alone anyway; it waits for their Accept
    session.add(like)
    if author.is_local:
        await notify(session, author.id, NotificationType.LIKE, from_actor_id=actor.id, post_id=post.id)
    else:
        activity = like_activity(like.ap_id or "", actor.ap_id, post.ap_id)
        await queue_activity(session, actor, activity, [author.inbox_url], local_base_url=urls.base_url)
    return like


async def unlike_post(session: AsyncSession, urls: Urls, actor: Actor, post: Post, author: Actor) -> None:
    like = await session.scalar(select(Like).where(col(Like.actor_id) == actor.id, col(Like.post_id) == post.id))
    if like is None:
        return
    await session.delete(like)
    assert author.id is not None and actor.id is not None
    if author.is_local:
        await withdraw_notification(session, author.id, NotificationType.LIKE, from_actor_id=actor.id, post_id=post.id)
        return
    original = like_activity(like.ap_id or "", actor.ap_id, post.ap_id)
    undo = undo_activity(new_activity_id(urls, actor.username), actor.ap_id, original, [author.ap_id])
    await queue_activity(session, actor, undo, [author.inbox_url], local_base_url=urls.base_url)


async def boost_post(session: AsyncSession, urls: Urls, actor: Actor, post: Post, author: Actor) -> Announce:
    """A local account boosts ``post`` to its followers; the author is told too."""
    assert actor.id is not None and author.id is not None
    if post.visibility not in BOOSTABLE or post.deleted_at is not None:
        raise Forbidden("Only public and unlisted posts can be boosted.")
    await _refuse_unseen(session, actor, post)
    existing = await session.scalar(
        select(Announce).where(col(Announce.actor_id) == actor.id, col(Announce.post_id) == post.id)
    )
    if existing is not None:
        return existing
    verdict = await permitted(session, actor, post, rule.ANNOUNCE)
    boost = Announce(
        actor_id=actor.id, post_id=post.id, ap_id=new_activity_id(urls, actor.username), published=utcnow()
    )
    if verdict.needs_accept and not author.is_local:
        boost.approval = Approval.PENDING
    session.add(boost)
    if author.is_local:
        await notify(session, author.id, NotificationType.ANNOUNCE, from_actor_id=actor.id, post_id=post.id)
    activity = announce_document(urls, actor, author, post, boost.ap_id or "", boost.published)
    await queue_activity(
        session, actor, activity, await boost_inboxes(session, actor, author, boost), local_base_url=urls.base_url
    )
    return boost


async def boost_inboxes(session: AsyncSession, actor: Actor, author: Actor, boost: Announce) -> list[str]:
    """Followers' inboxes and the author's; only the author's while the boost waits for their approval."""
    assert actor.id is not None
    if boost.approval == Approval.PENDING:
        return [inbox_of(author)]
    inboxes = await follower_inboxes(session, actor.id)
    if not author.is_local:
        inboxes.append(inbox_of(author))  # one copy for the author's server (decision 0054)
    return inboxes


async def permitted(session: AsyncSession, actor: Actor, post: Post, kind: str) -> rule.Verdict:
    """What the post's interaction policy lets a local account do (decision 0063); ``UnprocessableEntity``
    with the reason when it does not. Posts without a policy let everyone who can see them."""
    if post.interaction_policy is None or post.author_id == actor.id:
        return rule.EVERYONE
    (view,) = await load_post_views(session, [post])
    found = await session.run_sync(lambda sync: permissions(sync, [view], actor.id))
    verdict = found[post.id].of(kind)
    if not verdict.allowed:
        raise UnprocessableEntity(rule.REFUSALS[kind])
    return verdict


async def unboost_post(session: AsyncSession, urls: Urls, actor: Actor, post: Post, author: Actor) -> None:
    boost = await session.scalar(
        select(Announce).where(col(Announce.actor_id) == actor.id, col(Announce.post_id) == post.id)
    )
    if boost is None:
        return
    await session.delete(boost)
    assert actor.id is not None and author.id is not None
    if author.is_local:
        await withdraw_notification(
            session, author.id, NotificationType.ANNOUNCE, from_actor_id=actor.id, post_id=post.id
        )
    original = announce_document(urls, actor, author, post, boost.ap_id or "", boost.published)
    undo = undo_activity(new_activity_id(urls, actor.username), actor.ap_id, original, list(original["to"]))
    await queue_activity(
        session, actor, undo, await boost_inboxes(session, actor, author, boost), local_base_url=urls.base_url
    )


async def _refuse_unseen(session: AsyncSession, actor: Actor, post: Post) -> None:
    """A post the actor may not see (private, or across a block) answers as a missing one."""
    if not await can_see(session, post, actor.id):
        raise NotFound("No such post.")


def announce_document(
    urls: Urls,
    actor: Actor,
    author: Actor,
    post: Post,
    activity_id: str,
    published: datetime,
    approved_by: str | None = None,
) -> JsonObject:
    return {
        **announce_activity(
            activity_id,
            actor.ap_id,
            post.ap_id,
            author_id=author.ap_id,
            followers_url=actor.followers_url or urls.followers_url(actor.username),
            published=published,
        ),
        **approval_terms(rule.ANNOUNCE, approved_by),
    }


async def receive_like(session: AsyncSession, actor: Actor, post: Post, activity_id: str) -> Like | None:
    """A remote actor liked a local post (refused when it may not see the post: not addressed to it, or its
    author and the actor are blocked apart); the new like, ``None`` when refused or already known."""
    assert actor.id is not None
    if await session.scalar(select(col(Like.id)).where(col(Like.actor_id) == actor.id, col(Like.post_id) == post.id)):
        return None
    if not await can_see(session, post, actor.id):
        return None
    like = Like(actor_id=actor.id, post_id=post.id, ap_id=activity_id)
    session.add(like)
    await session.flush()
    await notify(session, post.author_id, NotificationType.LIKE, from_actor_id=actor.id, post_id=post.id)
    return like


async def receive_announce(
    session: AsyncSession, actor: Actor, post: Post, activity_id: str, published: datetime
) -> None:
    """A remote actor boosted a post (ours, or one we know from a followed account); a boost of a post the
    booster may not see (its author and the booster are blocked apart) is refused."""
    assert actor.id is not None
    if await session.scalar(
        select(col(Announce.id)).where(col(Announce.actor_id) == actor.id, col(Announce.post_id) == post.id)
    ):
        return
    if not await can_see(session, post, actor.id):
        return
    session.add(Announce(actor_id=actor.id, post_id=post.id, ap_id=activity_id, published=published))
    await notify(session, post.author_id, NotificationType.ANNOUNCE, from_actor_id=actor.id, post_id=post.id)


async def receive_undo(
    session: AsyncSession,
    actor: Actor,
    model: type[Like] | type[Announce],
    activity_id: str,
    *,
    object_ap_id: str | None = None,
) -> bool:
    """Undo a remote actor's Like or Announce; True when something was undone.

    Matched by the activity id, else (when the Undo embeds it) by the post it acted on: Mastodon undoes a
    like by its target, and some servers' Undo names an id that differs from the one they first sent.
    """
    row: Like | Announce | None = await session.scalar(
        select(model).where(col(model.ap_id) == activity_id, col(model.actor_id) == actor.id)
    )
    if row is None and object_ap_id is not None:
        row = await session.scalar(
            select(model)
            .join(Post, col(Post.id) == col(model.post_id))
            .where(col(model.actor_id) == actor.id, col(Post.ap_id) == object_ap_id)
        )
    if row is None:
        return False
    await session.delete(row)
    kind = NotificationType.LIKE if model is Like else NotificationType.ANNOUNCE
    post = await session.get(Post, row.post_id)
    if post is not None and actor.id is not None:
        await withdraw_notification(session, post.author_id, kind, from_actor_id=actor.id, post_id=post.id)
    return True

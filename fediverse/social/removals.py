"""Removing things: tombstoned posts, deleted accounts, blocks and reports. Call inside a write transaction."""

from __future__ import annotations

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core.media_files import keys_of
from fediverse.social.follows import drop_follow
from storage.cache import POSTS, bump
from storage.models import (
    Actor,
    Announce,
    Block,
    Follow,
    Like,
    Media,
    Mention,
    Notification,
    Post,
    PostMedia,
    PostTag,
    Report,
)
from storage.types import utcnow


async def tombstone_post(session: AsyncSession, post: Post) -> None:
    """A deleted post keeps only its id (so it is never recreated and answers 410); the rest goes."""
    post.deleted_at = post.deleted_at or utcnow()
    post.content_html = ""
    post.source_text = None
    post.summary = None
    post.raw = None
    post.generation = None
    await drop_attachments(session, post)
    await bump(session, POSTS)
    for statement in (
        delete(PostTag).where(col(PostTag.post_id) == post.id),
        delete(Mention).where(col(Mention.post_id) == post.id),
        delete(Announce).where(col(Announce.post_id) == post.id),
        delete(Like).where(col(Like.post_id) == post.id),
        delete(Notification).where(col(Notification.post_id) == post.id),
    ):
        await session.execute(statement)


async def drop_attachments(session: AsyncSession, post: Post) -> set[str]:
    """Delete a post's attachments (an image belongs to one post) and return the keys of the files they
    used, to forget once the transaction has committed (``fediverse.core.media_files.forget_files``). A remote
    post's images stay on their server, so its rows have no files."""
    media = list(await session.scalars(select(Media).join(PostMedia).where(col(PostMedia.post_id) == post.id)))
    await session.execute(delete(PostMedia).where(col(PostMedia.post_id) == post.id))
    if media:
        await session.execute(delete(Media).where(col(Media.id).in_([item.id for item in media])))
    return {key for item in media for key in keys_of(item)}


async def purge_actor(session: AsyncSession, actor: Actor) -> None:
    """Everything a deleted remote account left here: posts, media, follows, likes, boosts, mentions."""
    post_ids = list(await session.scalars(select(col(Post.id)).where(col(Post.author_id) == actor.id)))
    for post_id in post_ids:
        post = await session.get(Post, post_id)
        if post is not None:
            await tombstone_post(session, post)
    for statement in (
        delete(Follow).where(or_(col(Follow.follower_id) == actor.id, col(Follow.followee_id) == actor.id)),
        delete(Like).where(col(Like.actor_id) == actor.id),
        delete(Announce).where(col(Announce.actor_id) == actor.id),
        delete(Mention).where(col(Mention.actor_id) == actor.id),
        delete(Notification).where(col(Notification.actor_id) == actor.id),
        delete(Block).where(or_(col(Block.blocker_id) == actor.id, col(Block.blocked_id) == actor.id)),
    ):
        await session.execute(statement)
    actor.gone_at = utcnow()
    actor.summary_html = ""
    actor.display_name = ""
    actor.raw = None
    actor.public_key_pem = None
    actor.icon_url = actor.header_url = None


async def record_block(session: AsyncSession, blocker: Actor, blocked: Actor, activity_id: str | None) -> None:
    """``blocker`` blocks ``blocked``: follows in both directions end."""
    existing = await session.scalar(
        select(col(Block.id)).where(col(Block.blocker_id) == blocker.id, col(Block.blocked_id) == blocked.id)
    )
    if existing is None:
        assert blocker.id is not None and blocked.id is not None
        session.add(Block(blocker_id=blocker.id, blocked_id=blocked.id, ap_id=activity_id))
    await drop_follow(session, blocker, blocked)
    await drop_follow(session, blocked, blocker)


async def record_report(
    session: AsyncSession,
    *,
    activity_id: str | None,
    reporter: Actor | None,
    target: Actor | None,
    post_ids: list[str],
    comment: str,
) -> Report:
    report = Report(
        ap_id=activity_id,
        reporter_id=reporter.id if reporter else None,
        target_actor_id=target.id if target else None,
        post_ap_ids=post_ids[:100],
        comment=comment[:5000],
    )
    session.add(report)
    return report

"""Removing things: tombstoned posts, deleted accounts, blocks and reports. Call inside a write transaction,
except ``purge_actor``, which runs its own bounded transactions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core.media_files import keys_of
from fediverse.social.follows import drop_follow
from storage.cache import POSTS, bump
from storage.db import Database
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
    PostEdit,
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
        delete(PostEdit).where(col(PostEdit.post_id) == post.id),
    ):
        await session.execute(statement)


async def drop_attachments(session: AsyncSession, post: Post) -> set[str]:
    """Delete a post's attachments (an image belongs to one post) and return the keys of the files they
    used, to forget once the transaction has committed (``fediverse.core.media_files.forget_files``). A remote
    post's rows may have cached copies (decision 0059): callers that do not forget the keys leave those to
    housekeeping's sweep of files no row uses."""
    media = list(await session.scalars(select(Media).join(PostMedia).where(col(PostMedia.post_id) == post.id)))
    await session.execute(delete(PostMedia).where(col(PostMedia.post_id) == post.id))
    if media:
        await session.execute(delete(Media).where(col(Media.id).in_([item.id for item in media])))
    return {key for item in media for key in keys_of(item)}


#: Posts tombstoned per transaction while purging a deleted account (docs/decisions/0050: ~9 set-based
#: statements per step, each step far below the ~100 ms a transaction may hold SQLite's writer).
PURGE_STEP = 100


async def forget_actor(session: AsyncSession, actor: Actor) -> None:
    """The first step of purging a deleted remote account: mark it gone (its key goes, so nothing new from it
    is accepted or applied) and drop what it did to others: follows, likes, boosts, mentions, notifications
    and blocks, one statement each."""
    for statement in (
        delete(Follow).where(or_(col(Follow.follower_id) == actor.id, col(Follow.followee_id) == actor.id)),
        delete(Like).where(col(Like.actor_id) == actor.id),
        delete(Announce).where(col(Announce.actor_id) == actor.id),
        delete(Mention).where(col(Mention.actor_id) == actor.id),
        delete(Notification).where(col(Notification.actor_id) == actor.id),
        delete(Block).where(or_(col(Block.blocker_id) == actor.id, col(Block.blocked_id) == actor.id)),
    ):
        await session.execute(statement)
    actor.gone_at = actor.gone_at or utcnow()
    actor.summary_html = ""
    actor.display_name = ""
    actor.raw = None
    actor.public_key_pem = None
    actor.icon_url = actor.header_url = None
    actor.avatar_media_id = actor.header_media_id = None  # their rows and cached files go with housekeeping


async def tombstone_posts(session: AsyncSession, post_ids: Sequence[int]) -> None:
    """``tombstone_post`` for many posts at once, in a fixed number of statements (remote posts: cached
    copies of their attachments go with housekeeping's sweep of files no row uses)."""
    if not post_ids:
        return
    ids = list(post_ids)
    media_ids = list(await session.scalars(select(col(PostMedia.media_id)).where(col(PostMedia.post_id).in_(ids))))
    await session.execute(delete(PostMedia).where(col(PostMedia.post_id).in_(ids)))
    if media_ids:
        await session.execute(delete(Media).where(col(Media.id).in_(media_ids)))
    for model in (PostTag, Mention, Announce, Like, Notification, PostEdit):
        await session.execute(delete(model).where(col(model.post_id).in_(ids)))
    await session.execute(
        update(Post)
        .where(col(Post.id).in_(ids))
        .values(
            deleted_at=func.coalesce(col(Post.deleted_at), utcnow()),
            content_html="",
            source_text=None,
            summary=None,
            raw=None,
            generation=None,
        )
        .execution_options(synchronize_session=False)
    )
    await bump(session, POSTS)


async def purge_step(session: AsyncSession, actor_id: int, *, after: int = 0, limit: int = PURGE_STEP) -> int | None:
    """Tombstone up to ``limit`` of the actor's posts with ids above ``after`` that still stand; the last id
    seen, or ``None`` when there were none."""
    post_ids = [
        post_id
        for post_id in await session.scalars(
            select(col(Post.id))
            .where(col(Post.author_id) == actor_id, col(Post.id) > after, col(Post.deleted_at).is_(None))
            .order_by(col(Post.id))
            .limit(limit)
        )
        if post_id is not None
    ]
    await tombstone_posts(session, post_ids)
    return post_ids[-1] if len(post_ids) == limit else None


async def purge_actor(db: Database, actor_id: int, *, step: int | None = None) -> None:
    """Everything a deleted remote account left here, in bounded steps: first the account itself is marked
    gone and its relations dropped (one transaction), then its posts are tombstoned ``step`` at a time, each
    step its own transaction, so no transaction holds the writer long. Safe to run again after an
    interruption: it carries on with the posts still standing."""
    async with db.transaction() as session:
        actor = await session.get(Actor, actor_id)
        if actor is None:
            return
        await forget_actor(session, actor)
    limit = step or PURGE_STEP
    after: int | None = 0
    while after is not None:
        async with db.transaction() as session:
            after = await purge_step(session, actor_id, after=after, limit=limit)


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

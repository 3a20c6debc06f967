"""Notifications for local accounts (follows, requests, likes, boosts, replies, mentions, remixes, quotes and
edits of quoted posts).

A notification about a post goes only to someone who may see that post (``fediverse.core.visibility``), and is
shown only while they still may: a direct or followers-only reply, mention or remix says nothing to the
people it is not for, and rows written before this rule, or before an unfollow or a block, stay hidden.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core.blocking import is_blocked_between, not_silenced_for
from fediverse.core.visibility import can_see, visible_to
from storage.models import Account, Notification, NotificationType, Post, QuoteState


async def notify(
    session: AsyncSession,
    recipient_actor_id: int,
    kind: NotificationType,
    *,
    from_actor_id: int,
    post_id: int | None = None,
) -> None:
    """Notify the local account behind ``recipient_actor_id``; remote actors, self-actions, actions across
    a block and posts the recipient may not see are skipped."""
    if recipient_actor_id == from_actor_id or await is_blocked_between(session, recipient_actor_id, from_actor_id):
        return
    account_id = await session.scalar(select(col(Account.id)).where(col(Account.actor_id) == recipient_actor_id))
    if account_id is None:
        return
    if post_id is not None:
        post = await session.get(Post, post_id)
        if post is None or not await can_see(session, post, recipient_actor_id):
            return
    session.add(Notification(account_id=account_id, type=kind, actor_id=from_actor_id, post_id=post_id))


async def notify_quoted_update(session: AsyncSession, post: Post) -> None:
    """``post`` was edited: each local author of a post quoting it is told (Mastodon 4.5's ``quoted_update``),
    once per edit, if they may still see it."""
    quoters = await session.scalars(
        select(col(Post.author_id))
        .join(Account, col(Account.actor_id) == col(Post.author_id))
        .where(
            col(Post.quote_ap_id) == post.ap_id,
            col(Post.deleted_at).is_(None),
            or_(col(Post.quote_state).is_(None), col(Post.quote_state) != QuoteState.REJECTED),
        )
        .distinct()
    )
    for quoter in list(quoters):
        await notify(session, quoter, NotificationType.QUOTED_UPDATE, from_actor_id=post.author_id, post_id=post.id)


async def withdraw_notification(
    session: AsyncSession,
    recipient_actor_id: int,
    kind: NotificationType,
    *,
    from_actor_id: int,
    post_id: int | None = None,
) -> None:
    """Remove what an undone action caused (an unliked post no longer shows the like)."""
    account_id = select(col(Account.id)).where(col(Account.actor_id) == recipient_actor_id).scalar_subquery()
    statement = delete(Notification).where(
        col(Notification.account_id) == account_id,
        col(Notification.type) == kind,
        col(Notification.actor_id) == from_actor_id,
    )
    if post_id is not None:
        statement = statement.where(col(Notification.post_id) == post_id)
    await session.execute(statement)


def shown_to(account: Account) -> ColumnElement[bool]:
    """A WHERE clause for the notifications ``account`` is shown (the list and the unread count): its own,
    not silenced, and about no post or a post it may see now."""
    visible_post = exists().where(
        col(Post.id) == col(Notification.post_id), col(Post.deleted_at).is_(None), visible_to(account.actor_id)
    )
    return and_(
        col(Notification.account_id) == account.id,
        not_silenced_for(Notification.actor_id, account.actor_id),
        or_(col(Notification.post_id).is_(None), visible_post),
    )

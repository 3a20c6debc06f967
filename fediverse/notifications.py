"""Notifications for local accounts (follows, requests, likes, boosts, replies, mentions, remixes)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from fediverse.blocking import is_blocked_between
from storage.models import Account, Notification, NotificationType


async def notify(
    session: AsyncSession,
    recipient_actor_id: int,
    kind: NotificationType,
    *,
    from_actor_id: int,
    post_id: int | None = None,
) -> None:
    """Notify the local account behind ``recipient_actor_id``; remote actors, self-actions and actions
    across a block are skipped."""
    if recipient_actor_id == from_actor_id or await is_blocked_between(session, recipient_actor_id, from_actor_id):
        return
    account_id = await session.scalar(select(Account.id).where(Account.actor_id == recipient_actor_id))
    if account_id is None:
        return
    session.add(Notification(account_id=account_id, type=kind, actor_id=from_actor_id, post_id=post_id))


async def withdraw_notification(
    session: AsyncSession,
    recipient_actor_id: int,
    kind: NotificationType,
    *,
    from_actor_id: int,
    post_id: int | None = None,
) -> None:
    """Remove what an undone action caused (an unliked post no longer shows the like)."""
    account_id = select(Account.id).where(Account.actor_id == recipient_actor_id).scalar_subquery()
    statement = delete(Notification).where(
        Notification.account_id == account_id, Notification.type == kind, Notification.actor_id == from_actor_id
    )
    if post_id is not None:
        statement = statement.where(Notification.post_id == post_id)
    await session.execute(statement)

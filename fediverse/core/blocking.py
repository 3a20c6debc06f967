"""Blocks and mutes as read conditions: whose posts, boosts and notifications a viewer does not get.

A viewer does not see posts or boosts by the accounts it blocks or mutes, nor by those that block it
(Mastodon hides both sides of a block), nor by accounts on a domain it blocked for itself
(``AccountDomainBlock``, Mastodon's per-user domain block). Notifications are silenced from the accounts
it blocks, those it muted with "hide notifications", and the domains it blocked. The state changes live
in ``fediverse.social.blocks`` and ``fediverse.social.domain_blocks``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Account, AccountDomainBlock, Actor, Block, Mute

#: A viewer's actor id: a number, or a column (the rule asked of many viewers in one statement).
Viewer = int | ColumnElement[int]


def not_blocking(column: Any, viewer_actor_id: Viewer) -> ColumnElement[bool]:
    """``column`` (an actor id) does not block the viewer."""
    clause: ColumnElement[bool] = column.not_in(
        select(col(Block.blocker_id)).where(col(Block.blocked_id) == viewer_actor_id)
    )
    return clause


def not_blocked_between(column: Any, viewer_actor_id: Viewer) -> ColumnElement[bool]:
    """``column`` (an actor id) is neither blocked by the viewer nor blocking the viewer."""
    return and_(
        column.not_in(select(col(Block.blocked_id)).where(col(Block.blocker_id) == viewer_actor_id)),
        not_blocking(column, viewer_actor_id),
    )


def not_on_blocked_domain(column: Any, viewer_actor_id: int) -> ColumnElement[bool]:
    """``column`` (an actor id) is not an account on a domain the viewer's account blocked (exact domain,
    as Mastodon matches a user's domain block)."""
    domains = (
        select(col(AccountDomainBlock.domain))
        .join(Account, col(Account.id) == col(AccountDomainBlock.account_id))
        .where(col(Account.actor_id) == viewer_actor_id)
    )
    clause: ColumnElement[bool] = column.not_in(select(col(Actor.id)).where(col(Actor.domain).in_(domains)))
    return clause


def not_hidden_from(column: Any, viewer_actor_id: int) -> ColumnElement[bool]:
    """``column`` (an actor id) is not blocked or muted by the viewer, nor blocking the viewer, nor on a
    domain the viewer blocked."""
    return and_(
        not_blocked_between(column, viewer_actor_id),
        column.not_in(select(col(Mute.muted_id)).where(col(Mute.muter_id) == viewer_actor_id)),
        not_on_blocked_domain(column, viewer_actor_id),
    )


def not_silenced_for(column: Any, viewer_actor_id: int) -> ColumnElement[bool]:
    """A notification's ``column`` (its actor id, may be NULL) is neither blocked by the viewer, nor muted
    with notifications hidden, nor on a domain the viewer blocked."""
    return or_(
        column.is_(None),
        and_(
            column.not_in(select(col(Block.blocked_id)).where(col(Block.blocker_id) == viewer_actor_id)),
            column.not_in(
                select(col(Mute.muted_id)).where(
                    col(Mute.muter_id) == viewer_actor_id, col(Mute.hide_notifications).is_(True)
                )
            ),
            not_on_blocked_domain(column, viewer_actor_id),
        ),
    )


async def is_blocked_between(session: AsyncSession, first_id: int | None, second_id: int | None) -> bool:
    """Whether either actor blocks the other."""
    found = await session.scalar(
        select(col(Block.id))
        .where(
            ((col(Block.blocker_id) == first_id) & (col(Block.blocked_id) == second_id))
            | ((Block.blocker_id == second_id) & (Block.blocked_id == first_id))
        )
        .limit(1)
    )
    return found is not None

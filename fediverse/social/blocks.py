"""A local account blocks or mutes another account, local or remote. Call inside a write transaction.

Blocking does what Mastodon's ``BlockService`` does: follows end both ways (an ``Undo{Follow}`` for ours,
a ``Reject{Follow}`` for theirs), their notifications to the blocker go, and a remote account's server
gets a ``Block`` (``Undo{Block}`` on unblock) at the account's own inbox. Muting stays here.
What a block or mute hides from pages is ``fediverse.core.blocking``'s.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core.errors import BadRequest
from fediverse.core.urls import Urls
from fediverse.federation.activities import block_activity, new_activity_id, undo_activity
from fediverse.federation.outbox import queue_activity
from fediverse.social.follows import cancel_follow, find_follow, remove_follower
from storage.models import Account, Actor, Block, Mute, Notification


async def find_block(session: AsyncSession, blocker: Actor, blocked: Actor) -> Block | None:
    return await session.scalar(
        select(Block).where(col(Block.blocker_id) == blocker.id, col(Block.blocked_id) == blocked.id)
    )


async def block_account(session: AsyncSession, urls: Urls, blocker: Actor, blocked: Actor) -> Block:
    """``blocker`` (local) blocks ``blocked``; repeating it changes nothing."""
    assert blocker.is_local and blocker.id is not None and blocked.id is not None
    if blocker.id == blocked.id:
        raise BadRequest("You cannot block yourself.")
    existing = await find_block(session, blocker, blocked)
    if existing is not None:
        return existing
    if await find_follow(session, blocker, blocked) is not None:
        await cancel_follow(session, urls, blocker, blocked)
    if await find_follow(session, blocked, blocker) is not None:
        await remove_follower(session, urls, blocker, blocked)
    block = Block(blocker_id=blocker.id, blocked_id=blocked.id, ap_id=new_activity_id(urls, blocker.username))
    session.add(block)
    account_id = select(col(Account.id)).where(col(Account.actor_id) == blocker.id).scalar_subquery()
    await session.execute(
        delete(Notification).where(col(Notification.account_id) == account_id, col(Notification.actor_id) == blocked.id)
    )
    if not blocked.is_local:
        activity = block_activity(block.ap_id or "", blocker.ap_id, blocked.ap_id)
        await queue_activity(session, blocker, activity, [blocked.inbox_url], local_base_url=urls.base_url)
    return block


async def unblock_account(session: AsyncSession, urls: Urls, blocker: Actor, blocked: Actor) -> None:
    """Lift ``blocker``'s block; a remote account's server gets ``Undo`` of the ``Block`` it received."""
    block = await find_block(session, blocker, blocked)
    if block is None:
        return
    await session.delete(block)
    if blocked.is_local:
        return
    original = block_activity(block.ap_id or new_activity_id(urls, blocker.username), blocker.ap_id, blocked.ap_id)
    undo = undo_activity(new_activity_id(urls, blocker.username), blocker.ap_id, original, [blocked.ap_id])
    await queue_activity(session, blocker, undo, [blocked.inbox_url], local_base_url=urls.base_url)


async def find_mute(session: AsyncSession, muter: Actor, muted: Actor) -> Mute | None:
    return await session.scalar(select(Mute).where(col(Mute.muter_id) == muter.id, col(Mute.muted_id) == muted.id))


async def mute_account(session: AsyncSession, muter: Actor, muted: Actor, *, hide_notifications: bool) -> Mute:
    """``muter`` stops seeing ``muted``'s posts and boosts (and, if asked, notifications); muting again
    updates the notification choice."""
    assert muter.is_local and muter.id is not None and muted.id is not None
    if muter.id == muted.id:
        raise BadRequest("You cannot mute yourself.")
    mute = await find_mute(session, muter, muted)
    if mute is None:
        mute = Mute(muter_id=muter.id, muted_id=muted.id)
        session.add(mute)
    mute.hide_notifications = hide_notifications
    return mute


async def unmute_account(session: AsyncSession, muter: Actor, muted: Actor) -> None:
    await session.execute(delete(Mute).where(col(Mute.muter_id) == muter.id, col(Mute.muted_id) == muted.id))

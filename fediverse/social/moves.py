"""Moving accounts (FEP-7628, as Mastodon does it; decision 0061). Call inside a write transaction.

- **Aliases**: a local account lists the accounts it moves *from* in its actor's ``alsoKnownAs``. A server
  that receives the old account's ``Move`` fetches the new account and believes the move only when it
  lists the old one there.
- **Moving away** (``move_account``): the account must be listed by the new one (fetched fresh by the
  caller); our actor then says ``movedTo``, ``Update{Person}`` and ``Move{object: old, target: new}`` go to
  every follower's server (one shared inbox per server) and to servers whose accounts block us (so they
  can carry the block over), our own local followers follow the new account, and the old account stops
  posting. An account moves at most once in ``MOVE_COOLDOWN``.
- **A followed account moved** (``move_follows``, also for an incoming ``Move``): each local follower
  follows the new account (a ``Follow`` for a remote one) and stops following the old (``Undo{Follow}``),
  and is notified; blocks and mutes of the old account carry over to the new, as Mastodon's
  ``MoveWorker`` does.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core.blocking import is_blocked_between
from fediverse.core.errors import BadRequest, Conflict, Forbidden
from fediverse.core.urls import Urls
from fediverse.federation.activities import move_activity, new_activity_id
from fediverse.federation.actors_in import MAX_ALIASES
from fediverse.federation.outbox import follower_inboxes, inbox_of, queue_activity
from fediverse.social.blocks import block_account, find_block, find_mute, mute_account
from fediverse.social.follows import cancel_follow, find_follow, request_follow
from fediverse.social.notifications import notify
from fediverse.social.profiles import send_profile_update
from storage.models import Account, Actor, Block, Follow, Mute, NotificationType
from storage.types import utcnow

#: An account moves at most once in this long; a ``Move`` of an account that moved more recently here is
#: ignored (Mastodon's ``AccountMigration::COOLDOWN_PERIOD``).
MOVE_COOLDOWN = timedelta(days=30)


def handle_of(actor: Actor) -> str:
    return f"@{actor.username}@{actor.domain}"


def moved_recently(actor: Actor, now: datetime | None = None) -> bool:
    """Whether ``actor`` moved (or we applied its ``Move``) within ``MOVE_COOLDOWN``."""
    return actor.moved_at is not None and (now or utcnow()) - actor.moved_at < MOVE_COOLDOWN


def ensure_can_post(actor: Actor) -> None:
    """A moved account posts no more: its followers went to the new one."""
    if actor.moved_to_ap_id:
        raise Forbidden(
            f"This account has moved to {actor.moved_to_ap_id} and can no longer post. Post from your new account."
        )


async def add_alias(session: AsyncSession, urls: Urls, account: Account, actor: Actor, alias: Actor) -> bool:
    """List ``alias`` (an account this one moves from) in ``alsoKnownAs``; False when it already is."""
    if alias.id == actor.id:
        raise BadRequest("An account cannot be an alias of itself.")
    aliases = list(actor.also_known_as or [])
    if alias.ap_id in aliases:
        return False
    if len(aliases) >= MAX_ALIASES:
        raise BadRequest(f"An account has at most {MAX_ALIASES} aliases; remove one first.")
    actor.also_known_as = [*aliases, alias.ap_id]  # a new list: the JSON column sees the change
    await send_profile_update(session, urls, account, actor)
    return True


async def remove_alias(session: AsyncSession, urls: Urls, account: Account, actor: Actor, alias_ap_id: str) -> bool:
    """Take ``alias_ap_id`` out of ``alsoKnownAs``; False when it was not there."""
    aliases = list(actor.also_known_as or [])
    if alias_ap_id not in aliases:
        return False
    actor.also_known_as = [alias for alias in aliases if alias != alias_ap_id] or None
    await send_profile_update(session, urls, account, actor)
    return True


async def move_account(session: AsyncSession, urls: Urls, account: Account, actor: Actor, target: Actor) -> int:
    """The local ``actor`` moves to ``target`` (whose document the caller fetched fresh): see the module.
    Returns how many local follows moved with it."""
    now = utcnow()
    assert actor.is_local and actor.id is not None and target.id is not None
    if target.id == actor.id:
        raise BadRequest("You cannot move an account to itself.")
    if actor.moved_to_ap_id == target.ap_id:
        raise Conflict(f"This account has already moved to {handle_of(target)}.")
    if moved_recently(actor, now):
        assert actor.moved_at is not None
        again = (actor.moved_at + MOVE_COOLDOWN).strftime("%Y-%m-%d")
        raise Forbidden(f"This account moved less than {MOVE_COOLDOWN.days} days ago; it can move again on {again}.")
    if actor.ap_id not in (target.also_known_as or []):
        raise BadRequest(
            f"{handle_of(target)} does not list this account as an alias yet. On the new account, add "
            f"{handle_of(actor)} as an alias (on Mastodon: Preferences → Account → Moving from a different "
            "account), then move again."
        )
    actor.moved_to_ap_id = target.ap_id
    actor.moved_at = now
    await send_profile_update(session, urls, account, actor)
    move = move_activity(new_activity_id(urls, account.username), actor.ap_id, target.ap_id, actor.followers_url)
    inboxes = [*await follower_inboxes(session, actor.id), *await _blocked_by_inboxes(session, actor.id)]
    await queue_activity(session, actor, move, inboxes, local_base_url=urls.base_url)
    return await move_follows(session, urls, actor, target)


async def has_local_ties(session: AsyncSession, actor_id: int) -> bool:
    """Whether a local account follows, blocks or mutes ``actor_id``: what a ``Move`` of it would change here."""
    local = select(col(Actor.id)).where(col(Actor.is_local).is_(True))
    followed = exists().where(col(Follow.followee_id) == actor_id, col(Follow.follower_id).in_(local))
    blocked = exists().where(col(Block.blocked_id) == actor_id, col(Block.blocker_id).in_(local))
    muted = exists().where(col(Mute.muted_id) == actor_id)
    return bool(await session.scalar(select(or_(followed, blocked, muted))))


async def move_follows(session: AsyncSession, urls: Urls, old: Actor, new: Actor) -> int:
    """``old`` moved to ``new``: each local follower of ``old`` follows ``new`` instead and is told; local
    blocks and mutes of ``old`` carry over to ``new``. Returns how many follows moved.

    A follower that cannot follow ``new`` (a block either way, or ``new`` itself) keeps its follow, as on
    Mastodon. A local ``new`` takes the follows at once even if it approves followers by hand (it listed
    ``old`` as itself)."""
    assert old.id is not None and new.id is not None
    moved = 0
    followers = list(
        await session.scalars(
            select(Actor)
            .join(Follow, col(Follow.follower_id) == col(Actor.id))
            .where(col(Follow.followee_id) == old.id, col(Actor.is_local).is_(True))
            .order_by(col(Follow.id))
        )
    )
    for follower in followers:
        assert follower.id is not None
        if follower.id == new.id or await is_blocked_between(session, follower.id, new.id):
            continue
        await request_follow(session, urls, follower, new, bypass_approval=new.is_local)
        await cancel_follow(session, urls, follower, old)
        await notify(session, follower.id, NotificationType.MOVE, from_actor_id=old.id)
        moved += 1
    blockers = await session.scalars(
        select(Actor)
        .join(Block, col(Block.blocker_id) == col(Actor.id))
        .where(col(Block.blocked_id) == old.id, col(Actor.is_local).is_(True))
    )
    for blocker in list(blockers):
        if blocker.id == new.id or await find_block(session, blocker, new) or await find_follow(session, blocker, new):
            continue
        await block_account(session, urls, blocker, new)
    mutes = await session.execute(
        select(Actor, col(Mute.hide_notifications))
        .join(Mute, col(Mute.muter_id) == col(Actor.id))
        .where(col(Mute.muted_id) == old.id)
    )
    for muter, hide_notifications in list(mutes.all()):
        if muter.id == new.id or await find_mute(session, muter, new) or await find_follow(session, muter, new):
            continue
        await mute_account(session, muter, new, hide_notifications=hide_notifications)
    return moved


async def _blocked_by_inboxes(session: AsyncSession, actor_id: int) -> list[str]:
    """Inboxes of the remote accounts that block ``actor_id``: Mastodon sends them the ``Move`` too, so
    their block follows the account."""
    blockers = await session.scalars(
        select(Actor)
        .join(Block, col(Block.blocker_id) == col(Actor.id))
        .where(col(Block.blocked_id) == actor_id, col(Actor.is_local).is_(False), col(Actor.gone_at).is_(None))
    )
    return [inbox_of(blocker) for blocker in blockers]

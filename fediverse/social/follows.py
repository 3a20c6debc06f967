"""Follow relationships, for local and remote actors alike.

Call inside a write transaction. Remote parties get the activity Mastodon expects (``Follow``,
``Accept``/``Reject`` embedding the original ``Follow``, ``Undo{Follow}``); local parties get a
notification instead of an HTTP request.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core.blocking import is_blocked_between
from fediverse.core.errors import BadRequest, Forbidden, NotFound
from fediverse.core.urls import Urls
from fediverse.federation.activities import (
    accept_follow_activity,
    follow_activity,
    new_activity_id,
    reject_follow_activity,
    undo_activity,
)
from fediverse.federation.outbox import queue_activity
from fediverse.social.notifications import notify, withdraw_notification
from storage.models import Actor, Follow, FollowState, NotificationType
from storage.types import utcnow


async def find_follow(session: AsyncSession, follower: Actor, followee: Actor) -> Follow | None:
    return await session.scalar(
        select(Follow).where(col(Follow.follower_id) == follower.id, col(Follow.followee_id) == followee.id)
    )


async def request_follow(
    session: AsyncSession, urls: Urls, follower: Actor, followee: Actor, *, bypass_approval: bool = False
) -> Follow:
    """A local account follows ``followee``. Repeating it re-sends the Follow to a remote followee that
    has not answered (some servers answer 2xx and drop it). ``bypass_approval``: a local followee that
    approves followers by hand takes this one at once (a follow that moved with an account it aliased,
    as Mastodon's move does)."""
    assert follower.is_local and follower.id is not None and followee.id is not None
    if follower.id == followee.id:
        raise BadRequest("You cannot follow yourself.")
    if await is_blocked_between(session, follower.id, followee.id):
        raise Forbidden("You cannot follow this account.")
    follow = await find_follow(session, follower, followee)
    if follow is not None and follow.state == FollowState.ACCEPTED:
        return follow
    if followee.is_local:
        held = followee.manually_approves_followers and not bypass_approval
        state = FollowState.PENDING if held else FollowState.ACCEPTED
        if follow is None:
            follow = Follow(follower_id=follower.id, followee_id=followee.id, state=state)
            session.add(follow)
            kind = NotificationType.FOLLOW_REQUEST if state == FollowState.PENDING else NotificationType.FOLLOW
            await notify(session, followee.id, kind, from_actor_id=follower.id)
        if state == FollowState.ACCEPTED:  # a request still pending is taken now (e.g. a moved follow)
            follow.state = state
        follow.accepted_at = utcnow() if state == FollowState.ACCEPTED else None
        return follow
    activity = follow_activity(new_activity_id(urls, follower.username), follower.ap_id, followee.ap_id)
    if follow is None:
        follow = Follow(follower_id=follower.id, followee_id=followee.id, state=FollowState.PENDING)
        session.add(follow)
    follow.ap_id = activity["id"]
    await queue_activity(session, follower, activity, [followee.inbox_url], local_base_url=urls.base_url)
    return follow


async def cancel_follow(session: AsyncSession, urls: Urls, follower: Actor, followee: Actor) -> None:
    """A local account stops following (or withdraws its request)."""
    follow = await find_follow(session, follower, followee)
    if follow is None:
        return
    await session.delete(follow)
    if followee.is_local:
        assert followee.id is not None and follower.id is not None
        for kind in (NotificationType.FOLLOW, NotificationType.FOLLOW_REQUEST):
            await withdraw_notification(session, followee.id, kind, from_actor_id=follower.id)
        return
    original = follow_activity(follow.ap_id or "", follower.ap_id, followee.ap_id)
    undo = undo_activity(new_activity_id(urls, follower.username), follower.ap_id, original, [followee.ap_id])
    await queue_activity(session, follower, undo, [followee.inbox_url], local_base_url=urls.base_url)


async def receive_follow(
    session: AsyncSession, urls: Urls, follower: Actor, followee: Actor, follow_activity_id: str
) -> Follow | None:
    """A remote actor asked to follow a local account: accept at once, hold for approval, or reject
    when either blocks the other (``None``).

    A repeated Follow updates the stored activity id and is accepted again (Mastodon re-sends Follows,
    e.g. after a key change, and expects a fresh Accept).
    """
    assert follower.id is not None and followee.id is not None and followee.is_local
    if await is_blocked_between(session, follower.id, followee.id):
        await _send_follow_answer(session, urls, follower, followee, follow_activity_id, accept=False)
        return None
    follow = await find_follow(session, follower, followee)
    if follow is None:
        state = FollowState.PENDING if followee.manually_approves_followers else FollowState.ACCEPTED
        follow = Follow(follower_id=follower.id, followee_id=followee.id, state=state, ap_id=follow_activity_id)
        session.add(follow)
        kind = NotificationType.FOLLOW_REQUEST if state == FollowState.PENDING else NotificationType.FOLLOW
        await notify(session, followee.id, kind, from_actor_id=follower.id)
    follow.ap_id = follow_activity_id
    if follow.state == FollowState.ACCEPTED:
        follow.accepted_at = follow.accepted_at or utcnow()
        await _send_follow_answer(session, urls, follower, followee, follow_activity_id, accept=True)
    return follow


async def approve_follow_request(session: AsyncSession, urls: Urls, followee: Actor, follower: Actor) -> Follow:
    """The local ``followee`` approves a pending request."""
    follow = await find_follow(session, follower, followee)
    if follow is None:
        raise NotFound("There is no such follow request.")
    if follow.state != FollowState.ACCEPTED:
        follow.state = FollowState.ACCEPTED
        follow.accepted_at = utcnow()
        assert followee.id is not None and follower.id is not None
        await withdraw_notification(session, followee.id, NotificationType.FOLLOW_REQUEST, from_actor_id=follower.id)
        await notify(session, followee.id, NotificationType.FOLLOW, from_actor_id=follower.id)
    if not follower.is_local:
        await _send_follow_answer(session, urls, follower, followee, follow.ap_id or "", accept=True)
    return follow


async def remove_follower(session: AsyncSession, urls: Urls, followee: Actor, follower: Actor) -> None:
    """The local ``followee`` rejects a request or removes an existing follower."""
    follow = await find_follow(session, follower, followee)
    if follow is None:
        return
    await session.delete(follow)
    assert followee.id is not None and follower.id is not None
    await withdraw_notification(session, followee.id, NotificationType.FOLLOW_REQUEST, from_actor_id=follower.id)
    if not follower.is_local:
        await _send_follow_answer(session, urls, follower, followee, follow.ap_id or "", accept=False)


async def receive_follow_answer(session: AsyncSession, follower: Actor, followee: Actor, *, accepted: bool) -> bool:
    """A remote account accepted or rejected a local account's Follow; True when one was pending."""
    follow = await find_follow(session, follower, followee)
    if follow is None:
        return False
    if accepted:
        follow.state = FollowState.ACCEPTED
        follow.accepted_at = follow.accepted_at or utcnow()
    else:
        await session.delete(follow)
    return True


async def drop_follow(session: AsyncSession, follower: Actor, followee: Actor) -> None:
    """Forget a follow without telling anyone (a remote Undo{Follow}, or a block)."""
    await session.execute(
        delete(Follow).where(col(Follow.follower_id) == follower.id, col(Follow.followee_id) == followee.id)
    )
    if followee.is_local and followee.id is not None and follower.id is not None:
        for kind in (NotificationType.FOLLOW, NotificationType.FOLLOW_REQUEST):
            await withdraw_notification(session, followee.id, kind, from_actor_id=follower.id)


async def _send_follow_answer(
    session: AsyncSession, urls: Urls, follower: Actor, followee: Actor, follow_activity_id: str, *, accept: bool
) -> None:
    original = follow_activity(follow_activity_id, follower.ap_id, followee.ap_id)
    build = accept_follow_activity if accept else reject_follow_activity
    answer = build(new_activity_id(urls, followee.username), followee.ap_id, original)
    await queue_activity(session, followee, answer, [follower.inbox_url], local_base_url=urls.base_url)

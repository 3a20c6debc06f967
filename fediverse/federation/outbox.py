"""The transactional outbox: an outgoing activity and one ``Delivery`` per remote inbox, in the caller's
transaction. A crash can delay a delivery, never lose it; the worker sends them (``fediverse.delivery``).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from activitypub.vocab import JsonObject, get_id
from fediverse.core.domain_blocks import blocked_hosts
from storage.models import Actor, Delivery, Follow, FollowState, OutboxActivity
from storage.types import utcnow


def inbox_of(actor: Actor, *, shared: bool = True) -> str:
    """Where to deliver to ``actor``: its server's shared inbox when it has one (one POST per server)."""
    return (actor.shared_inbox_url or actor.inbox_url) if shared else actor.inbox_url


async def follower_inboxes(session: AsyncSession, actor_id: int) -> list[str]:
    """The distinct inboxes that reach every remote follower of ``actor_id``, shared inboxes first."""
    inbox = func.coalesce(Actor.shared_inbox_url, Actor.inbox_url)
    rows = await session.scalars(
        select(inbox)
        .join(Follow, col(Follow.follower_id) == col(Actor.id))
        .where(
            col(Follow.followee_id) == actor_id,
            col(Follow.state) == FollowState.ACCEPTED,
            col(Actor.is_local).is_(False),
            col(Actor.gone_at).is_(None),
        )
        .distinct()
    )
    return list(rows)


async def following_inboxes(session: AsyncSession, actor_id: int) -> list[str]:
    """Inboxes of the remote accounts ``actor_id`` follows (they also need profile updates and deletes)."""
    inbox = func.coalesce(Actor.shared_inbox_url, Actor.inbox_url)
    rows = await session.scalars(
        select(inbox)
        .join(Follow, col(Follow.followee_id) == col(Actor.id))
        .where(col(Follow.follower_id) == actor_id, col(Actor.is_local).is_(False), col(Actor.gone_at).is_(None))
        .distinct()
    )
    return list(rows)


async def queue_activity(
    session: AsyncSession,
    actor: Actor,
    activity: JsonObject,
    inboxes: Iterable[str],
    *,
    local_base_url: str,
    again: bool = False,
) -> OutboxActivity:
    """Store ``activity`` (so it is served at its id) and a delivery to each distinct remote inbox.

    ``again``: the activity was sent before under the same id and goes out once more, changed (an interaction
    sent to the author alone, then to everyone once approved; decision 0063): its stored copy is replaced.

    Inboxes on this instance and on blocked domains are skipped; local effects are applied by the
    caller directly.
    """
    assert actor.id is not None
    stored = None
    if again:
        stored = await session.scalar(select(OutboxActivity).where(col(OutboxActivity.ap_id) == activity["id"]))
    if stored is not None:
        stored.payload = activity
    else:
        stored = OutboxActivity(
            ap_id=activity["id"],
            actor_id=actor.id,
            type=str(activity["type"]),
            object_ap_id=get_id(activity.get("object")),
            payload=activity,
        )
        session.add(stored)
    await session.flush()
    already: set[str] = set()
    if again:  # those who had it (the author, while it waited) are not sent it twice
        already = set(
            await session.scalars(select(col(Delivery.inbox_url)).where(col(Delivery.activity_id) == stored.id))
        )
    remote = [
        inbox
        for inbox in dict.fromkeys(inboxes)
        if inbox and inbox not in already and not (inbox == local_base_url or inbox.startswith(local_base_url + "/"))
    ]
    blocked = await blocked_hosts(session, (_host(inbox) for inbox in remote))
    now = utcnow()
    rows = [
        {"activity_id": stored.id, "inbox_url": inbox, "host": _host(inbox), "next_attempt_at": now, "created_at": now}
        for inbox in remote
        if _host(inbox) not in blocked
    ]
    if rows:
        await session.execute(insert(Delivery), rows)
    return stored


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()

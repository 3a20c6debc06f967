"""Undo of a Follow, Like, Announce, Block or Accept, by the actor who did it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlmodel import col

from activitypub.errors import InvalidDocumentError
from activitypub.vocab import get_id, get_str
from fediverse.federation.inbox.context import IngestContext, embedded_object, local_actor, object_id, reload
from fediverse.social.follows import drop_follow
from fediverse.social.interactions import receive_undo
from storage.models import Actor, Announce, Block, Follow, Like


async def handle_undo(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    """Undo by the undone activity's id, or (when it is embedded) by what it acted on, as Mastodon matches
    an Undo of a Follow, Like or Block: real Undos sometimes name an id we never saw."""
    undone_id = object_id(activity)
    undone = embedded_object(activity)
    if undone is not None and get_id(undone.get("actor")) not in (None, actor.ap_id):
        raise InvalidDocumentError("an actor can only undo its own activities")
    kind = get_str(undone, "type") if undone is not None else None
    target = get_id(undone.get("object")) if undone is not None else None
    async with context.writing() as session:
        me = await reload(session, actor)
        for model, name in ((Like, "Like"), (Announce, "Announce")):
            if kind in (None, name) and await receive_undo(
                session, me, model, undone_id, object_ap_id=target if kind == name else None
            ):
                return
        if kind in (None, "Follow"):
            follow = await session.scalar(
                select(Follow).where(col(Follow.ap_id) == undone_id, col(Follow.follower_id) == me.id)
            )
            followee = await session.get(Actor, follow.followee_id) if follow else None
            if followee is None and kind == "Follow":
                followee = await local_actor(session, target or "")
            if followee is not None:
                await drop_follow(session, me, followee)
                return
        if kind in (None, "Block"):
            by_id = await session.execute(
                delete(Block).where(col(Block.blocker_id) == me.id, col(Block.ap_id) == undone_id)
            )
            if getattr(by_id, "rowcount", 0):
                return
            blocked = await local_actor(session, target or "") if kind == "Block" else None
            if blocked is not None:
                await session.execute(
                    delete(Block).where(col(Block.blocker_id) == me.id, col(Block.blocked_id) == blocked.id)
                )
                return
        if kind == "Accept" and undone is not None:
            # The followee revokes an accepted follow: our account no longer follows them.
            follower = await local_actor(session, get_id((embedded_object(undone) or {}).get("actor")) or "")
            if follower is not None:
                await drop_follow(session, follower, me)

"""Follow, Accept and Reject from remote actors."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import col

from activitypub.errors import InvalidDocumentError
from activitypub.vocab import get_id, get_str
from fediverse.federation.inbox.context import IngestContext, embedded_object, local_actor, object_id, reload
from fediverse.federation.inbox.quotes import handle_quote_answer, is_quote_request_answer
from fediverse.social.follows import receive_follow, receive_follow_answer
from storage.models import Actor, Follow


async def handle_follow(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    """Someone follows a local account: accept (or hold for approval) and answer with ``Accept``."""
    async with context.writing() as session:
        followee = await local_actor(session, object_id(activity))
        if followee is None:
            return  # not one of ours; nothing to do
        await receive_follow(session, context.urls, await reload(session, actor), followee, str(activity["id"]))


async def _answer(context: IngestContext, actor: Actor, activity: dict[str, Any], *, accepted: bool) -> None:
    """``Accept``/``Reject`` of a local account's Follow; only the followee may answer it."""
    follow_id = object_id(activity)
    embedded = embedded_object(activity)
    async with context.writing() as session:
        follow = await session.scalar(select(Follow).where(col(Follow.ap_id) == follow_id))
        follower = await session.get(Actor, follow.follower_id) if follow else None
        if follower is None and embedded is not None:
            # Some servers answer with a Follow we cannot match by id: match by its actor (Mastodon does).
            follower = await local_actor(session, get_id(embedded.get("actor")) or "")
            if get_id(embedded.get("object")) not in (None, actor.ap_id):
                raise InvalidDocumentError("the answered Follow is not for the answering actor")
        if follower is None or not follower.is_local:
            return
        if follow is not None and follow.followee_id != actor.id:
            raise InvalidDocumentError("only the followed actor can answer a Follow")
        await receive_follow_answer(session, follower, await reload(session, actor), accepted=accepted)


async def handle_accept(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    if is_quote_request_answer(context, activity):
        await handle_quote_answer(context, actor, activity, accepted=True)
        return
    embedded = embedded_object(activity)
    if embedded is not None and get_str(embedded, "type") not in (None, "Follow"):
        return  # an Accept of something else we never asked for
    await _answer(context, actor, activity, accepted=True)


async def handle_reject(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    if is_quote_request_answer(context, activity):
        await handle_quote_answer(context, actor, activity, accepted=False)
        return
    embedded = embedded_object(activity)
    if embedded is not None and get_str(embedded, "type") not in (None, "Follow"):
        return
    await _answer(context, actor, activity, accepted=False)

"""Follow, Accept and Reject from remote actors."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import col

from activitypub.errors import InvalidDocumentError
from activitypub.vocab import get_id, get_ids, get_str
from fediverse.federation.actors_in import host_of
from fediverse.federation.inbox.context import IngestContext, embedded_object, local_actor, object_id, reload
from fediverse.federation.inbox.quotes import handle_quote_answer, is_quote_request_answer
from fediverse.social.approvals import receive_interaction_answer
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


#: GoToSocial's "polite" interaction requests: an Accept of one names the interaction as its ``instrument``.
INTERACTION_REQUESTS = frozenset({"LikeRequest", "ReplyRequest", "AnnounceRequest"})


async def _answer_interaction(
    context: IngestContext, actor: Actor, activity: dict[str, Any], *, accepted: bool
) -> bool:
    """``Accept``/``Reject`` of a local account's reply, like or boost by the author of the post it was
    for (GoToSocial's approval flow, decision 0063). True when the activity answered one of ours.

    The approval is the Accept's ``result`` (an authorization object on the Accept's server, GoToSocial
    0.19+), else the Accept itself (as GoToSocial 0.17–0.18 and its "impolite" Accepts name it)."""
    embedded = embedded_object(activity)
    interaction_id = object_id(activity)
    if embedded is not None and get_str(embedded, "type") in INTERACTION_REQUESTS:
        interaction_id = get_id(embedded.get("instrument")) or ""
    if not context.urls.is_local(interaction_id):
        return False
    approved_by = None
    if accepted:
        answer_id = str(activity.get("id") or "")
        results = get_ids(activity.get("result"))
        result = results[0] if len(results) == 1 else None
        approved_by = result if result and host_of(result) == host_of(answer_id) else answer_id
        if not approved_by:
            raise InvalidDocumentError("an Accept needs an id")
    async with context.writing() as session:
        return await receive_interaction_answer(
            session, context.urls, await reload(session, actor), interaction_id, approved_by=approved_by
        )


async def handle_accept(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    if is_quote_request_answer(context, activity):
        await handle_quote_answer(context, actor, activity, accepted=True)
        return
    embedded = embedded_object(activity)
    is_follow = embedded is not None and get_str(embedded, "type") == "Follow"
    if not is_follow and await _answer_interaction(context, actor, activity, accepted=True):
        return
    if embedded is not None and get_str(embedded, "type") not in (None, "Follow"):
        return  # an Accept of something else we never asked for
    await _answer(context, actor, activity, accepted=True)


async def handle_reject(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    if is_quote_request_answer(context, activity):
        await handle_quote_answer(context, actor, activity, accepted=False)
        return
    embedded = embedded_object(activity)
    is_follow = embedded is not None and get_str(embedded, "type") == "Follow"
    if not is_follow and await _answer_interaction(context, actor, activity, accepted=False):
        return
    if embedded is not None and get_str(embedded, "type") not in (None, "Follow"):
        return
    await _answer(context, actor, activity, accepted=False)

"""FEP-044f from remote actors (decision 0064): a ``QuoteRequest`` for one of our posts, and the ``Accept`` or
``Reject`` of a ``QuoteRequest`` we sent."""

from __future__ import annotations

from typing import Any

from activitypub.errors import InvalidDocumentError
from activitypub.vocab import get_id, get_str, get_types
from fediverse.federation.actors_in import host_of
from fediverse.federation.inbox.context import IngestContext, embedded_object, object_id, post_by_id, reload
from fediverse.social.posts import republish_post
from fediverse.social.quotes import answer_quote_request, receive_quote_answer
from storage.models import Actor


def is_quote_request_answer(context: IngestContext, activity: dict[str, Any]) -> bool:
    """Whether an ``Accept``/``Reject`` answers a ``QuoteRequest`` (embedded, or by the id we gave it)."""
    embedded = embedded_object(activity)
    if embedded is not None and "QuoteRequest" in get_types(embedded):
        return True
    target = get_id(activity.get("object")) or ""
    return context.urls.is_local(target) and target.endswith("#quote_request")


async def handle_quote_request(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    """Someone asks to quote one of our posts with theirs (the ``instrument``, on their own server)."""
    quoted_id = object_id(activity)
    instrument = get_id(activity.get("instrument"))
    if not instrument or host_of(instrument) != host_of(actor.ap_id):
        raise InvalidDocumentError("the quoting post must be the requesting actor's, on its server")
    if not context.urls.is_local(quoted_id):
        return  # not ours to answer
    request: dict[str, Any] = {
        key: activity[key] for key in ("id", "type", "actor", "object", "instrument") if key in activity
    }
    request["instrument"] = instrument
    async with context.writing() as session:
        quoted = await post_by_id(session, quoted_id)
        if quoted is None or not quoted.is_local:
            return
        await answer_quote_request(session, context.urls, await reload(session, actor), quoted, instrument, request)


async def handle_quote_answer(
    context: IngestContext, actor: Actor, activity: dict[str, Any], *, accepted: bool
) -> None:
    """The quoted author's ``Accept`` (whose ``result`` is the ``QuoteAuthorization``, on their server) or
    ``Reject`` of our ``QuoteRequest``."""
    embedded = embedded_object(activity) or {}
    post_id = get_id(embedded.get("instrument")) or object_id(activity).removesuffix("#quote_request")
    authorization = get_str(activity, "result") or get_id(activity.get("result")) if accepted else None
    if accepted and (not authorization or host_of(authorization) != host_of(actor.ap_id)):
        raise InvalidDocumentError("an Accept of a QuoteRequest needs a QuoteAuthorization on the author's server")
    if not context.urls.is_local(post_id):
        return
    async with context.writing() as session:
        post = await post_by_id(session, post_id)
        if post is None or not post.is_local or post.deleted_at is not None:
            return
        answerer = await reload(session, actor)
        if await receive_quote_answer(session, answerer, post, authorization=authorization):
            await republish_post(session, context.urls, post, also=[answerer])

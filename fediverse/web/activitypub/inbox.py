"""Inboxes: ``POST /users/{name}/inbox`` and the shared ``POST /inbox`` (the intake side; decision 0020).

Content type -> the sending server's allowance (``429`` with ``Retry-After`` past it; decision 0023) ->
body cap -> signature, for this server's host only (Digest checked on the raw bytes before any JSON
parsing; the key fetched within a deadline) -> JSON -> signer must be the activity's actor (or, for a
``Create``, ``Update`` or ``Delete`` another server forwards, it is stored as a ``Forward`` that the worker
checks before anything is believed; decision 0058) -> one ``InboxItem`` (unique on the activity id, so a
replay is a no-op) stored by the group-commit writer, which also checks domain blocks and the recipient for
the whole batch (``federation.intake``) -> ``202``. The worker applies it later.
"""

from __future__ import annotations

import codecs
import json
import logging
from typing import Any

from sqlalchemy import select
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitypub.errors import KeyUnavailableError, SignatureError
from activitypub.signatures import signature_key_id, verify_request
from activitypub.vocab import get_id, get_str
from fediverse.core.domain_blocks import blocked_hosts
from fediverse.core.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    UnsupportedMediaType,
)
from fediverse.federation.actors_in import host_of
from fediverse.federation.inbox.forwarded import FORWARD, FORWARD_KEY_PREFIX, FORWARDABLE_TYPES
from fediverse.federation.inbox.handlers import HANDLED_TYPES
from fediverse.federation.inbox.intake import InboxIntake
from fediverse.services import Services
from fediverse.web.rate_limits import HostRateLimit
from storage.models import Actor
from storage.types import RawJson, utcnow

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Mastodon drops activities over 1 MB
ACCEPTED_CONTENT_TYPES = frozenset({"application/activity+json", "application/ld+json", "application/json"})
MAX_ID_LENGTH = 2048


async def read_capped_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refusing (413) anything over ``limit`` without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise PayloadTooLarge(f"The body exceeds {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body exceeds {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def request_target(request: Request) -> str:
    """Path and query exactly as the client sent them (the signature covers these bytes)."""
    raw_path: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    query: bytes = request.scope.get("query_string", b"")
    return raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")


def parse_activity(body: bytes) -> dict[str, Any]:
    """The activity as a JSON object with an id, a type and an actor on the id's server, or ``BadRequest``."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:  # bad JSON, bad UTF-8, absurd nesting
        raise BadRequest("The body is not valid JSON.") from error
    if not isinstance(document, dict):
        raise BadRequest("The body is not a JSON object.")
    activity_id = get_str(document, "id")
    if not activity_id or len(activity_id) > MAX_ID_LENGTH or not activity_id.startswith(("https://", "http://")):
        raise BadRequest("The activity has no usable id.")
    if not isinstance(document.get("type"), str | list):
        raise BadRequest("The activity has no type.")
    actor_id = get_id(document.get("actor"))
    if not actor_id:
        raise BadRequest("The activity has no actor.")
    if host_of(activity_id) != host_of(actor_id):
        # An id is its server's to mint: another server's id would squat the activity it names (the inbox
        # keeps one item per id), so that server's genuine activity would be dropped as a replay.
        raise BadRequest("The activity's id is not on its actor's server.")
    return document


def stored_payload(body: bytes, activity: dict[str, Any]) -> RawJson | dict[str, Any]:
    """What goes in the payload column: the body as received when it is plain UTF-8 (no re-encoding),
    else the parsed document (``json.loads`` also reads UTF-16/32 and a byte order mark)."""
    if body.startswith(codecs.BOM_UTF8):
        return activity
    try:
        return RawJson(body.decode("utf-8"))
    except UnicodeDecodeError:
        return activity


async def is_farewell_of_a_stranger(services: Services, body: bytes) -> bool:
    """A deleted account's own Delete (or last Update) whose key can no longer be fetched, from an actor we
    never knew or already forgot. Mastodon answers these 202 unverified rather than 401, so the sender
    does not retry for days; nothing is stored."""
    try:
        activity = parse_activity(body)
    except BadRequest:
        return False
    actor_id = get_id(activity.get("actor"))
    if activity_type(activity) not in ("Delete", "Update") or actor_id != get_id(activity.get("object")):
        return False
    async with services.db.session() as session:
        known = await session.scalar(
            select(col(Actor.id)).where(col(Actor.ap_id) == actor_id, col(Actor.gone_at).is_(None))
        )
    return known is None


def activity_type(document: dict[str, Any]) -> str:
    kinds = document.get("type")
    first = kinds[0] if isinstance(kinds, list) and kinds else kinds
    return first if isinstance(first, str) else ""


async def inbox(request: Request) -> Response:
    services: Services = request.state.services
    intake: InboxIntake = request.state.inbox_writer
    username = request.path_params.get("username")
    recipient_account_id = None
    if username is not None:
        recipient_account_id = await intake.recipient_id(username)
        if recipient_account_id is None:
            raise NotFound("No such account.")
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in ACCEPTED_CONTENT_TYPES:
        raise UnsupportedMediaType("Send application/activity+json.")
    allowance: HostRateLimit = request.app.state.inbox_rate
    wait = allowance.retry_after(host_of(signature_key_id(request.headers) or ""))
    if wait is not None:
        raise TooManyRequests("Too many activities from your server; try again later.", retry_after=wait)
    body = await read_capped_body(request)
    try:
        verified = await verify_request(
            "POST",
            request_target(request),
            request.headers,
            body,
            resolve_key=services.keys.resolve,
            scheme=request.scope["scheme"],  # what request.url would say, without building it
            expected_host=services.settings.host,
        )
    except KeyUnavailableError:
        if await is_farewell_of_a_stranger(services, body):
            return Response(status_code=202)
        raise
    allowance.spend(host_of(verified.key_id))  # only a proven sender uses up its server's allowance
    activity = parse_activity(body)
    actor_id = get_id(activity.get("actor")) or ""
    kind = activity_type(activity)
    if not verified.is_signed_by(actor_id):
        if kind not in FORWARDABLE_TYPES:
            raise SignatureError("the signature is not the activity's actor's")
        # A forward (decision 0058): signed by the server that passes it on, not by its author. Accepted, never
        # believed: the worker checks its Linked Data signature or asks the object's origin.
        if not services.urls.is_local(actor_id):
            await intake.store(forwarded_item(activity, body, verified.owner_id, recipient_account_id))
            services.wake_worker("inbox")
        return Response(status_code=202)
    if kind not in HANDLED_TYPES:
        async with services.db.session() as session:  # rare: answer a blocked domain as for any activity
            if await blocked_hosts(session, [host_of(actor_id)]):
                raise Forbidden("This server does not accept activities from your domain.")
        log.info("ignoring %s activity %s from %s", kind or "untyped", activity["id"], actor_id)
        return Response(status_code=202)
    await intake.store(inbox_row(activity["id"], actor_id, kind, stored_payload(body, activity), recipient_account_id))
    services.wake_worker("inbox")
    return Response(status_code=202)


def inbox_row(
    key: str, actor_id: str, kind: str, payload: RawJson | dict[str, Any], recipient_account_id: int | None
) -> dict[str, Any]:
    now = utcnow()
    return {
        "activity_ap_id": key,
        "actor_ap_id": actor_id,
        "type": kind,
        "payload": payload,
        "recipient_account_id": recipient_account_id,
        "state": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "received_at": now,
    }


def forwarded_item(
    activity: dict[str, Any], body: bytes, forwarder_id: str, recipient_account_id: int | None
) -> dict[str, Any]:
    """The ``InboxItem`` of a forwarded activity: of type ``Forward``, from the forwarder (whose domain blocks
    and order apply), keyed apart from the activity's own id so that a forged forward cannot take the place
    of the author's genuine delivery of it (the inbox keeps one item per key)."""
    key = f"{FORWARD_KEY_PREFIX}{host_of(forwarder_id)} {activity['id']}"
    return inbox_row(key, forwarder_id, FORWARD, stored_payload(body, activity), recipient_account_id)


routes = [
    Route("/inbox", inbox, methods=["POST"]),
    Route("/actor/inbox", inbox, methods=["POST"]),
    Route("/users/{username}/inbox", inbox, methods=["POST"]),
]

"""Mastodon's streaming API (docs/client-api.md, decision 0057): ``/api/v1/streaming`` as a WebSocket, the
server-sent-events paths under it, and ``/api/v1/streaming/health``.

As Mastodon's streaming server does: a user's token is required for every stream (in ``Authorization``,
the ``access_token`` query parameter, or, for a WebSocket, the ``Sec-WebSocket-Protocol`` header, which
is then echoed); ``user`` needs ``read:statuses``, ``user:notification`` needs ``read:notifications``
(and the ``user`` stream carries notifications only with it), ``list`` (the caller's own list, ``list=ID``;
anyone else's is 404) ``read:statuses``, public and hashtag streams any scope. A
WebSocket names its first stream in ``?stream=`` and changes them with ``{"type": "subscribe",
"stream": …, "tag": …, "list": …}`` / ``"unsubscribe"`` messages; each event is ``{"stream": [name, (tag)], "event":
…, "payload": "<JSON text, or an id for delete>"}``. An event stream sends ``event: …`` / ``data: …``
pairs and a ``:thump`` comment every 15 seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from fediverse.core.errors import BadRequest, ReverieError, ServiceUnavailable, Unauthorized
from fediverse.core.ids import parse_id
from fediverse.core.text import normalize_tag
from fediverse.services import Services
from fediverse.social.lists import owned_list
from fediverse.web.client_api.auth import Caller, InsufficientScope, bearer_token, caller, covers, find_caller
from fediverse.web.client_api.stream_events import (
    HASHTAG,
    HASHTAG_LOCAL,
    KINDS,
    LIST,
    NOTIFICATIONS,
    PUBLIC,
    PUBLIC_LOCAL,
    PUBLIC_REMOTE,
    USER,
    Stream,
)
from fediverse.web.client_api.stream_hub import REVOKED, SHUTDOWN, TOO_SLOW, StreamHub, Subscriber
from fediverse.web.responses import JSONResponse

#: An event stream's keep-alive comment comes this often without events (seconds), as Mastodon's.
HEARTBEAT_SECONDS = 15.0
#: Streams one WebSocket may hold at once.
MAX_STREAMS = 100
#: Scopes the non-public streams need (a broad ``read`` covers both).
_SCOPES = {USER: "read:statuses", LIST: "read:statuses", NOTIFICATIONS: "read:notifications"}
#: WebSocket close codes: the server is going away; the client fell too far behind; the token is gone.
_CLOSE_CODES = {SHUTDOWN: 1001, TOO_SLOW: 1013, REVOKED: 1008}


def parse_stream(kind: object, tag: object, list_word: object = None) -> tuple[Stream, list[str]]:
    """A stream from a client's words, and the name events on it carry (400 when it names none)."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise BadRequest("Unknown stream type")
    if kind == LIST:
        list_id = parse_id(list_word)
        if list_id is None:
            raise BadRequest("Missing list parameter")
        return Stream(kind, list_id=list_id), [kind, str(list_id)]
    if kind not in (HASHTAG, HASHTAG_LOCAL):
        return Stream(kind), [kind]
    name = normalize_tag(tag.strip().removeprefix("#")) if isinstance(tag, str) else ""
    if not name or len(name) > 100:
        raise BadRequest("Missing tag name parameter")
    assert isinstance(tag, str)
    return Stream(kind, name), [kind, tag]


async def check_access(services: Services, found: Caller, stream: Stream) -> None:
    """The caller's token covers the stream, and a list stream names the caller's own list (else 404)."""
    scope = _SCOPES.get(stream.kind)
    if scope is not None and not covers(found.scopes, scope):
        raise InsufficientScope(scope)
    if stream.list_id is not None:
        account_id, list_id = found.account.id if found.account else 0, stream.list_id
        await services.db.read(lambda session: owned_list(session, account_id or 0, list_id))


def _user_caller(found: Caller | None, *, token_given: bool) -> Caller:
    """Streams are a user's: 401 without a valid token, or with an app's own token."""
    if found is None:
        raise Unauthorized("Invalid access token" if token_given else "Missing access token")
    if found.account is None:
        raise Unauthorized("This method requires an authenticated user.")
    return found


async def health(_request: Request) -> Response:
    return PlainTextResponse("OK")


# --- Server-sent events ---------------------------------------------------------------------------


def _event_stream_endpoint(kind: str) -> Callable[[Request], Coroutine[Any, Any, Response]]:
    async def endpoint(request: Request) -> Response:
        found = _user_caller(await caller(request), token_given=bearer_token(request) is not None)
        stream, name = parse_stream(kind, request.query_params.get("tag"), request.query_params.get("list"))
        await check_access(request.state.services, found, stream)
        subscriber = Subscriber(found)
        subscriber.streams[stream] = name
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(
            _events(request.state.stream_hub, subscriber), media_type="text/event-stream", headers=headers
        )

    return endpoint


async def _events(hub: StreamHub, subscriber: Subscriber) -> AsyncIterator[str]:
    """The response body: joined once it runs (so a response never sent never joins), ``:)`` once the
    stream is live, then events and heartbeats until the client leaves or the server closes it."""
    try:
        await hub.join(subscriber)
    except ServiceUnavailable:
        return
    try:
        yield ":)\n"
        while True:
            item = await subscriber.next(HEARTBEAT_SECONDS)
            if subscriber.closed is not None:
                return
            if item is None:
                yield ":thump\n"
                continue
            _, message = item
            yield f"event: {message.event}\ndata: {message.payload}\n\n"
    finally:
        hub.leave(subscriber)


# --- WebSocket ------------------------------------------------------------------------------------


def _websocket_token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """The token, and the subprotocol to answer with when it came as one (browsers insist on the echo)."""
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), None
    if token := websocket.query_params.get("access_token"):
        return token, None
    offered = websocket.scope.get("subprotocols") or []
    if offered and isinstance(offered[0], str) and offered[0]:
        return offered[0], offered[0]
    return None, None


async def _refuse(websocket: WebSocket, status: int, message: str) -> None:
    """Answer the upgrade with an HTTP error (a 403 close where the server cannot send one)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse({"error": message}, status_code=status))
    else:
        await websocket.close(code=1008 if status < 500 else 1013)


def _error_text(error: ReverieError) -> str:
    return json.dumps({"error": str(error), "status": error.status_code})


async def _change(services: Services, subscriber: Subscriber, found: Caller, request: dict[str, Any]) -> str | None:
    """Apply a subscribe or unsubscribe message; the error to send back, if any (others are ignored)."""
    kind, stream_word = request.get("type"), request.get("stream")
    if isinstance(stream_word, list):  # a query string's repeated parameter, as Mastodon's firstParam
        stream_word = stream_word[0] if stream_word else None
    if kind == "subscribe":
        try:
            stream, name = parse_stream(stream_word, request.get("tag"), request.get("list"))
            await check_access(services, found, stream)
            if stream not in subscriber.streams and len(subscriber.streams) >= MAX_STREAMS:
                raise BadRequest(f"At most {MAX_STREAMS} streams per connection")
        except ReverieError as error:
            return _error_text(error)
        subscriber.streams.setdefault(stream, name)
    elif kind == "unsubscribe":
        try:
            stream, _ = parse_stream(stream_word, request.get("tag"), request.get("list"))
        except ReverieError:
            return json.dumps({"error": "Error unsubscribing from channel"})
        subscriber.streams.pop(stream, None)
    return None


async def stream_websocket(websocket: WebSocket) -> None:
    token, subprotocol = _websocket_token(websocket)
    found = await find_caller(websocket.state.services, token) if token else None
    try:
        found = _user_caller(found, token_given=token is not None)
    except Unauthorized as error:
        await _refuse(websocket, 401, str(error))
        return
    subscriber = Subscriber(found)
    first_error = None
    if "stream" in websocket.query_params:
        query = dict(websocket.query_params)
        first_error = await _change(websocket.state.services, subscriber, found, {**query, "type": "subscribe"})
    hub: StreamHub = websocket.state.stream_hub
    try:
        await hub.join(subscriber)
    except ServiceUnavailable as error:
        await _refuse(websocket, 503, str(error))
        return
    try:
        await websocket.accept(subprotocol=subprotocol)
        lock = asyncio.Lock()
        if first_error is not None:
            await websocket.send_text(first_error)
        await _first_of(
            lambda: _listen(websocket, subscriber, found, lock), lambda: _speak(websocket, subscriber, lock)
        )
    except WebSocketDisconnect:
        pass
    finally:
        hub.leave(subscriber)


async def _first_of(*work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``work`` until one of them ends (or the client leaves), then stop the others."""
    async with anyio.create_task_group() as group:

        async def run(part: Callable[[], Coroutine[Any, Any, None]]) -> None:
            with contextlib.suppress(WebSocketDisconnect):
                await part()
            group.cancel_scope.cancel()

        for part in work:
            group.start_soon(run, part)


async def _listen(websocket: WebSocket, subscriber: Subscriber, found: Caller, lock: asyncio.Lock) -> None:
    """The client's messages: subscribe, unsubscribe; anything else is ignored, binary data refused."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("bytes") is not None:
            async with lock:
                await websocket.close(code=1003, reason="binary messages are not supported")
            return
        try:
            request = json.loads(message.get("text") or "")
        except ValueError:
            continue
        if (
            isinstance(request, dict)
            and (error := await _change(websocket.state.services, subscriber, found, request)) is not None
        ):
            async with lock:
                await websocket.send_text(error)


async def _speak(websocket: WebSocket, subscriber: Subscriber, lock: asyncio.Lock) -> None:
    """Send the subscriber's events until it is closed (the server's pings keep an idle line open)."""
    while True:
        item = await subscriber.next(HEARTBEAT_SECONDS)
        if subscriber.closed is not None:
            async with lock:
                await websocket.close(code=_CLOSE_CODES.get(subscriber.closed, 1000), reason=subscriber.closed)
            return
        if item is None:
            continue
        name, message = item
        text = json.dumps({"stream": name, "event": message.event, "payload": message.payload}, ensure_ascii=False)
        async with lock:
            await websocket.send_text(text)


_SSE_PATHS = {
    "user": USER,
    "user/notification": NOTIFICATIONS,
    "public": PUBLIC,
    "public/local": PUBLIC_LOCAL,
    "public/remote": PUBLIC_REMOTE,
    "hashtag": HASHTAG,
    "hashtag/local": HASHTAG_LOCAL,
    "list": LIST,
}

routes: list[BaseRoute] = [
    Route("/api/v1/streaming/health", health),
    *(Route(f"/api/v1/streaming/{path}", _event_stream_endpoint(kind)) for path, kind in _SSE_PATHS.items()),
    # Mastodon's server takes any upgrade, whatever the path, and reads the stream from the query.
    WebSocketRoute("/api/v1/streaming{rest:path}", stream_websocket),
]

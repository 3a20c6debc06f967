"""Cheap repeat reads for strangers: conditional GETs, and a few seconds' cache for anonymous readers.

A route marks an answer *shareable* (``SHAREABLE``, a header this middleware removes) when it is the
same for every reader who is not signed in: the anonymous profile, post and tag pages
(``render_page(shareable=True)``) and every public ActivityStreams document (``Reader.respond`` of a
reader that is not ``private``). For such a ``200``:

- it gets an ``ETag`` (strong for documents; weak for pages, whose per-visitor form token is folded in),
  and a matching ``If-None-Match`` is answered ``304`` without a body;
- when the request is anonymous (no session cookie, no ``Signature``/``Authorization`` header) it is
  kept for ``REVERIE_ANONYMOUS_CACHE_MS`` (5 s by default) in a bounded in-process map keyed by path,
  query and what was asked for (HTML or AS2, htmx or not), and the next anonymous request for the same
  key is answered from it; those that arrive while it is being made wait for it (made once, not 64 times).

Signed-in pages are never marked (``Cache-Control: private, no-store``), and signed fetches never read
the map, so nobody is served an answer made for someone else: the read rule (who may see what) is
decided by the route for every request that could be answered differently.

The map is also dropped when this process commits a change to a post, an account or the instance
settings (``storage.cache`` names ``posts``, ``accounts``, ``instance``); other processes drop theirs
within about a second (``storage.cache.CHECK_INTERVAL``), and anything else a page shows (a reply or a
like arriving from another server, a follow) is at most that old. A link-preview stampede lasts longer than
that, so the page is made about once per interval instead of once per reader.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass, replace

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fediverse.web.responses import prefers_activity_json
from fediverse.web.sessions import FORM_COOKIE, SESSION_COOKIE
from storage.cache import ACCOUNTS, INSTANCE, POSTS, Cache
from storage.db import UNAVAILABLE_ERRORS

#: The header by which a route marks its answer as the same for every anonymous reader: ``VALIDATE``
#: gives it an ETag; ``KEEP`` also lets this process reuse it (only answers whose changes bump a
#: ``storage.cache`` name, so that a change made here is never hidden behind the kept copy).
SHAREABLE = "x-reverie-shareable"
VALIDATE = "validate"
KEEP = "keep"
MAX_ENTRIES = 256
#: Larger answers are not kept (a few hundred KiB bounds the map at MAX_ENTRIES × this).
MAX_BODY_BYTES = 256 * 1024

_SHAREABLE = SHAREABLE.encode()
_KEEP = KEEP.encode()
_PLACEHOLDER = b"@@reverie-form-token@@"
_REQUEST_CREDENTIALS = (b"signature", b"signature-input", b"authorization")
_KEPT_ON_304 = (b"cache-control", b"vary", b"etag", b"content-location", b"expires")


#: What a kept answer is found by: path, query string, ``html``/``as2``, the ``HX-Request`` header.
_Key = tuple[str, bytes, str, bytes]


@dataclass(frozen=True)
class _Answer:
    headers: list[tuple[bytes, bytes]]
    body: bytes
    #: The body's digest; with a form token, the token's digest is added per visitor.
    digest: str
    #: The body and a Set-Cookie header hold ``_PLACEHOLDER`` for the visitor's form token.
    form_token: bool
    #: The route that made it, put back in the scope when it is reused (request metrics label by it).
    route: object = None


class AnonymousCacheMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        #: Answers being made for anonymous readers, by key and cache token: a reader who asks for the
        #: same meanwhile waits for that one instead of making it again (a stampede makes it once).
        self._making: dict[tuple[_Key, tuple[int, ...]], asyncio.Future[_Answer | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, _strip_marker(send))
            return
        headers = _request_headers(scope)
        anonymous = not any(name in headers for name in _REQUEST_CREDENTIALS) and not _has_cookie(
            headers.get(b"cookie", b""), SESSION_COOKIE
        )
        cache: Cache[_Key, _Answer] | None = None
        key = (scope["path"], scope.get("query_string", b""), _variant(headers), headers.get(b"hx-request", b""))
        token: tuple[int, ...] = ()
        if anonymous:
            services = scope.get("state", {}).get("services")
            if services is not None and services.settings.anonymous_cache_ms > 0:
                cache = services.db.stamps.cache(
                    "anonymous answers",
                    (ACCOUNTS, INSTANCE, POSTS),
                    max_entries=MAX_ENTRIES,
                    ttl=services.settings.anonymous_cache_ms / 1000,
                )
                try:
                    token = await cache.token()
                except UNAVAILABLE_ERRORS:  # the database is away: the route answers (503) as it would
                    await self.app(scope, receive, _Capture(send, headers, None, key, token).send)
                    return
                kept = cache.peek(key, token)
                making = self._making.get((key, token))
                if kept is None and making is not None:
                    kept = await asyncio.shield(making)
                if kept is not None:
                    if kept.route is not None:
                        scope["route"] = kept.route
                    await _answer(kept, headers, send)
                    return
                if making is None:
                    await self._make(scope, receive, _Capture(send, headers, cache, key, token, scope))
                    return
        await self.app(scope, receive, _Capture(send, headers, None, key, token).send)

    async def _make(self, scope: Scope, receive: Receive, capture: _Capture) -> None:
        making = (capture.key, capture.token)
        self._making[making] = asyncio.get_running_loop().create_future()
        try:
            await self.app(scope, receive, capture.send)
        finally:
            future = self._making.pop(making)
            future.set_result(capture.kept)


class _Capture:
    """Passes a response through, except a shareable 200: that is buffered, tagged, kept if the
    request was anonymous, and answered (304 when the client has it)."""

    def __init__(
        self,
        send: Send,
        request_headers: dict[bytes, bytes],
        cache: Cache[_Key, _Answer] | None,
        key: _Key,
        token: tuple[int, ...],
        scope: Scope | None = None,
    ) -> None:
        self._send = send
        self._scope = scope
        self._request_headers = request_headers
        self._cache = cache
        self.key = key
        self.token = token
        #: The answer kept for the next anonymous readers, once made.
        self.kept: _Answer | None = None
        self._start: Message | None = None
        self._chunks: list[bytes] = []
        self._keep = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            marks = [value for name, value in headers if name.lower() == _SHAREABLE]
            if marks:
                headers = [(name, value) for name, value in headers if name.lower() != _SHAREABLE]
            if marks and message["status"] == 200:
                self._start = {**message, "headers": headers}
                self._keep = marks[0] == _KEEP
                return
            await self._send({**message, "headers": headers})
            return
        if self._start is None or message["type"] != "http.response.body":
            await self._send(message)
            return
        self._chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        answer = _make_answer(self._start["headers"], b"".join(self._chunks), self._request_headers)
        if self._keep and self._cache is not None and len(answer.body) <= MAX_BODY_BYTES:
            if self._scope is not None:
                answer = replace(answer, route=self._scope.get("route"))
            self._cache.put(self.key, answer, self.token)
            self.kept = answer
        await _answer(answer, self._request_headers, self._send)


def _make_answer(headers: list[tuple[bytes, bytes]], body: bytes, request_headers: dict[bytes, bytes]) -> _Answer:
    """The answer in the form it is kept: a form token the page was given becomes the placeholder."""
    form_token = None
    prefix = FORM_COOKIE.encode() + b"="
    for name, value in headers:
        if name.lower() == b"set-cookie" and value.startswith(prefix):
            form_token = value[len(prefix) :].split(b";", 1)[0]
    if form_token:
        body = body.replace(form_token, _PLACEHOLDER)
        headers = [
            (name, value.replace(form_token, _PLACEHOLDER) if name.lower() == b"set-cookie" else value)
            for name, value in headers
        ]
    return _Answer(
        headers=[(name, value) for name, value in headers if name.lower() != b"content-length"],
        body=body,
        digest=hashlib.blake2b(body, digest_size=12).hexdigest(),
        form_token=bool(form_token),
    )


async def _answer(kept: _Answer, request_headers: dict[bytes, bytes], send: Send) -> None:
    body, headers = kept.body, kept.headers
    if kept.form_token:
        token = _visitor_form_token(request_headers).encode()
        body = body.replace(_PLACEHOLDER, token)
        headers = [(name, value.replace(_PLACEHOLDER, token)) for name, value in headers]
        etag = f'W/"{kept.digest}-{hashlib.blake2b(token, digest_size=6).hexdigest()}"'.encode()
    else:
        etag = f'"{kept.digest}"'.encode()
    if _matches(request_headers.get(b"if-none-match", b""), etag):
        kept_headers = [(name, value) for name, value in headers if name.lower() in _KEPT_ON_304]
        await send({"type": "http.response.start", "status": 304, "headers": [*kept_headers, (b"etag", etag)]})
        await send({"type": "http.response.body", "body": b""})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [*headers, (b"etag", etag), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _matches(if_none_match: bytes, etag: bytes) -> bool:
    """RFC 9110 13.1.2: weak comparison, ``*`` matches any current representation."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix(b"W/")
    for candidate in if_none_match.split(b","):
        candidate = candidate.strip()
        if candidate == b"*" or candidate.removeprefix(b"W/") == wanted:
            return True
    return False


def _visitor_form_token(request_headers: dict[bytes, bytes]) -> str:
    """``fediverse.web.sessions.form_token``'s rule: the visitor's own token, or a new one."""
    existing = _cookie(request_headers.get(b"cookie", b""), FORM_COOKIE)
    return existing if len(existing) == 32 else secrets.token_urlsafe(24)


def _request_headers(scope: Scope) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for name, value in scope.get("headers", []):
        lowered = name.lower()
        found[lowered] = found[lowered] + b"," + value if lowered in found else value
    return found


def _cookie(header: bytes, name: str) -> str:
    for part in header.decode("latin-1").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


def _has_cookie(header: bytes, name: str) -> bool:
    return any(part.strip().partition("=")[0] == name for part in header.decode("latin-1").split(";"))


def _variant(headers: dict[bytes, bytes]) -> str:
    """What the route's content negotiation will choose (``fediverse.web.responses.wants_activity_json``)."""
    return "as2" if prefers_activity_json(headers.get(b"accept", b"").decode("latin-1")) else "html"


def _strip_marker(send: Send) -> Send:
    async def stripped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(name, value) for name, value in message.get("headers", []) if name.lower() != _SHAREABLE]
            message = {**message, "headers": headers}
        await send(message)

    return stripped

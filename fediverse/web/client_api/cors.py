"""CORS for the client API, so that browser apps on other origins (Elk, Phanpy, masto.js) can call it.

Only the Mastodon-shaped paths answer cross-origin, with ``*`` and without credentials: a browser then
never sends our session cookie along, so the cookie-authenticated ``/api`` of our own pages stays
same-origin. Preflights (``OPTIONS`` with ``Access-Control-Request-Method``) are answered here.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CORS_PREFIXES = ("/api/v1/", "/api/v2/", "/oauth/token", "/oauth/revoke", "/.well-known/oauth-authorization-server")
_ALLOWED_HEADERS = b"Authorization, Content-Type, Idempotency-Key, Accept"
_EXPOSED_HEADERS = b"Link, X-RateLimit-Reset, X-RateLimit-Limit, X-RateLimit-Remaining, X-Request-Id, Idempotency-Key"
_METHODS = b"POST, PUT, DELETE, GET, PATCH, OPTIONS"


def _is_api(path: str) -> bool:
    return path.startswith(CORS_PREFIXES) or path in ("/api/v1", "/api/v2")


class ClientApiCorsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_api(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        (b"access-control-allow-origin", b"*"),
                        (b"access-control-allow-methods", _METHODS),
                        (b"access-control-allow-headers", _ALLOWED_HEADERS),
                        (b"access-control-max-age", b"1728000"),
                        (b"vary", b"Origin"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", b"*"),
                    (b"access-control-expose-headers", _EXPOSED_HEADERS),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)

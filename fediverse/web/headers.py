"""Security headers on every response: a Content-Security-Policy without inline scripts, no framing,
no MIME sniffing, a strict referrer policy.

Pages load scripts and styles only from our own ``/static`` (no CDN, no inline code), so the policy
can forbid everything inline. Images come from our own origin only: remote attachments, avatars, headers
and emoji are cached in our media store and served from ``/media`` (decision 0059), so no reader's browser
contacts a server a remote post names. Blurhash placeholders are painted on a ``<canvas>``, which needs no
``data:`` image. Only "follow from your server" may post a form to another origin (the visitor's own).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def content_security_policy(base_url: str) -> str:
    other_servers = "https: http:" if base_url.startswith("http://") else "https:"
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self'",
        "media-src": "'self'",
        "connect-src": "'self'",
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        # "Follow from your server" redirects to the visitor's own instance after a form post.
        "form-action": f"'self' {other_servers}",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class SecurityHeadersMiddleware:
    """Adds the headers to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp, *, base_url: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", content_security_policy(base_url).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
        ]
        if base_url.startswith("https://"):
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in self.headers if name not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

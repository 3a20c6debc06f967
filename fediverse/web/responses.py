"""Response types and content negotiation shared by the routes.

Every object has one URL: ``Accept: application/activity+json`` (or ``application/ld+json`` with the AS2
profile) gets the ActivityStreams document, a browser gets HTML. ActivityStreams responses are made only
by ``fediverse.web.activitypub.signed_fetch``, after its check of who is reading.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

AS2_CONTENT_TYPE = "application/activity+json; charset=utf-8"
_AS2_TYPES = ("application/activity+json", "application/ld+json")


def _accepted_types(accept: str) -> list[tuple[str, float]]:
    """Media ranges of an ``Accept`` header with their q-values, in header order."""
    found = []
    for part in accept.split(","):
        pieces = [piece.strip() for piece in part.split(";")]
        media_type = pieces[0].lower()
        if not media_type:
            continue
        quality = 1.0
        for parameter in pieces[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        found.append((media_type, quality))
    return found


def wants_activity_json(request: Request) -> bool:
    """True when the client prefers an ActivityStreams document over HTML."""
    return prefers_activity_json(request.headers.get("accept", ""))


def prefers_activity_json(accept: str) -> bool:
    """``wants_activity_json`` for an ``Accept`` header's value."""
    best_as2 = best_html = 0.0
    for media_type, quality in _accepted_types(accept):
        if media_type in _AS2_TYPES or media_type == "application/json":
            best_as2 = max(best_as2, quality)
        elif media_type in ("text/html", "application/xhtml+xml"):
            best_html = max(best_html, quality)
    return best_as2 > 0 and best_as2 >= best_html


#: Paths whose errors are JSON whatever ``Accept`` says (apps read ``{"error": …}``).
CLIENT_API_PATHS = ("/api/v1/", "/api/v2/", "/oauth/token", "/oauth/revoke")


def wants_json(request: Request) -> bool:
    """For error bodies: JSON unless the client asks for HTML; always JSON for the client API."""
    if request.url.path.startswith(CLIENT_API_PATHS):
        return True
    accept = request.headers.get("accept", "")
    return "text/html" not in accept or wants_activity_json(request)


def dump_json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class JSONResponse(Response):
    """Plain JSON with an explicit media type (JRD, NodeInfo)."""

    media_type = "application/json; charset=utf-8"

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        super().__init__(content, status_code=status_code, headers=headers, media_type=media_type)

    def render(self, content: Any) -> bytes:
        return dump_json(content)

"""Endpoints for what Reverie does not have, answering with the shape a client expects instead of a 404
(apps treat a 404 on these as a broken server): announcements, trends, suggestions,
followed tags, conversations, scheduled posts, push subscriptions and translation languages.

Each still checks the scope Mastodon asks for, so an app learns about a missing scope the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse.core.errors import UnprocessableEntity
from fediverse.web.client_api.auth import require_scope, require_user
from fediverse.web.client_api.errors import RecordNotFound
from fediverse.web.responses import JSONResponse

Endpoint = Callable[[Request], Awaitable[Response]]


def _empty_for_user(scope: str) -> Endpoint:
    """An empty list for a signed-in user whose token has ``scope``."""

    async def endpoint(request: Request) -> Response:
        await require_user(request, scope)
        return JSONResponse([])

    return endpoint


async def _empty_public(_request: Request) -> Response:
    """Trends: nothing is trending (we keep no counts over time)."""
    return JSONResponse([])


async def _push_subscription(request: Request) -> Response:
    """No Web Push (the instance has no VAPID key): there is never a subscription to read (Mastodon's 404
    when none was made), removing one is a no-op, and making one is refused."""
    await require_scope(request, "push")
    if request.method == "DELETE":
        return JSONResponse({})
    if request.method in ("POST", "PUT"):
        raise UnprocessableEntity("Web Push is not available on this server.")
    raise RecordNotFound()


async def _translation_languages(_request: Request) -> Response:
    return JSONResponse({})


routes: list[BaseRoute] = [
    Route("/api/v1/announcements", _empty_for_user("read")),
    Route("/api/v1/trends", _empty_public),
    Route("/api/v1/trends/tags", _empty_public),
    Route("/api/v1/trends/statuses", _empty_public),
    Route("/api/v1/trends/links", _empty_public),
    Route("/api/v1/suggestions", _empty_for_user("read")),
    Route("/api/v2/suggestions", _empty_for_user("read")),
    Route("/api/v1/followed_tags", _empty_for_user("read:follows")),
    Route("/api/v1/conversations", _empty_for_user("read:statuses")),
    Route("/api/v1/scheduled_statuses", _empty_for_user("read:statuses")),
    Route("/api/v1/push/subscription", _push_subscription, methods=["GET", "POST", "PUT", "DELETE"]),
    Route("/api/v1/instance/translation_languages", _translation_languages),
]

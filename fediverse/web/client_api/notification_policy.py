"""Mastodon 4.3's notification policy and notification requests, as far as Reverie has them: every
notification is accepted (nothing is filtered into requests), so the policy says ``accept`` everywhere and
the requests are an empty list. Setting a category to ``accept`` is answered; ``filter`` and ``drop`` are a
422 "not supported" rather than a setting kept and never applied.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.errors import UnprocessableEntity
from fediverse.web.client_api.auth import require_user
from fediverse.web.client_api.entities import Json
from fediverse.web.client_api.errors import RecordNotFound
from fediverse.web.client_api.notifications import READ_SCOPE, WRITE_SCOPE
from fediverse.web.client_api.params import read_params
from fediverse.web.responses import JSONResponse

#: The categories of Mastodon's policy (v2 names; v1 says ``filter_…`` with booleans).
CATEGORIES = ("not_following", "not_followers", "new_accounts", "private_mentions", "limited_accounts")
_V1_CATEGORIES = CATEGORIES[:4]
_SUMMARY: Json = {"pending_requests_count": 0, "pending_notifications_count": 0}


def policy_v2() -> Json:
    return {**{f"for_{name}": "accept" for name in CATEGORIES}, "summary": dict(_SUMMARY)}


def policy_v1() -> Json:
    return {**{f"filter_{name}": False for name in _V1_CATEGORIES}, "summary": dict(_SUMMARY)}


async def show_policy(request: Request) -> Response:
    await require_user(request, READ_SCOPE)
    return JSONResponse(policy_v2() if request.url.path.startswith("/api/v2/") else policy_v1())


async def update_policy(request: Request) -> Response:
    """``PATCH /api/v2/notifications/policy`` (``for_…``: accept, filter, drop) and ``PUT /api/v1/…``
    (``filter_…``: booleans)."""
    await require_user(request, WRITE_SCOPE)
    params = await read_params(request)
    v2 = request.url.path.startswith("/api/v2/")
    for name in CATEGORIES if v2 else _V1_CATEGORIES:
        if v2:
            value = params.text(f"for_{name}")
            if value is None or value == "accept":
                continue
            if value not in ("filter", "drop"):
                raise UnprocessableEntity(f"for_{name} must be accept, filter or drop.")
        elif not params.flag(f"filter_{name}", default=False):
            continue
        raise UnprocessableEntity("Filtering notifications is not supported here: every notification is accepted.")
    return JSONResponse(policy_v2() if v2 else policy_v1())


async def list_requests(request: Request) -> Response:
    await require_user(request, READ_SCOPE)
    return JSONResponse([])


async def merged(request: Request) -> Response:
    await require_user(request, READ_SCOPE)
    return JSONResponse({"merged": True})


async def one_request(request: Request) -> Response:
    """A request by id (show, accept, dismiss): there are none."""
    await require_user(request, READ_SCOPE if request.method == "GET" else WRITE_SCOPE)
    raise RecordNotFound()


async def many_requests(request: Request) -> Response:
    """Accepting or dismissing requests by ``id[]``: nothing to do."""
    await require_user(request, WRITE_SCOPE)
    return JSONResponse({})


routes = [
    Route("/api/v2/notifications/policy", show_policy, methods=["GET"]),
    Route("/api/v2/notifications/policy", update_policy, methods=["PATCH"]),
    Route("/api/v1/notifications/policy", show_policy, methods=["GET"]),
    Route("/api/v1/notifications/policy", update_policy, methods=["PUT", "PATCH"]),
    Route("/api/v1/notifications/requests", list_requests, methods=["GET"]),
    Route("/api/v1/notifications/requests/merged", merged, methods=["GET"]),
    Route("/api/v1/notifications/requests/accept", many_requests, methods=["POST"]),
    Route("/api/v1/notifications/requests/dismiss", many_requests, methods=["POST"]),
    Route("/api/v1/notifications/requests/{id:id}", one_request, methods=["GET"]),
    Route("/api/v1/notifications/requests/{id:id}/accept", one_request, methods=["POST"]),
    Route("/api/v1/notifications/requests/{id:id}/dismiss", one_request, methods=["POST"]),
]

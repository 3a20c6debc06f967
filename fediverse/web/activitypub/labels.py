"""FEP-4c96 label definitions at their ids: ``/labels`` (the vocabulary) and ``/labels/{slug}``.

Every reader gets them, whatever the settings (they own nothing, as the instance actor); a label a post
carries must resolve, or its consumers cannot learn what it means.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.errors import NotFound
from fediverse.federation.labels import BY_SLUG, label_definition, label_vocabulary
from fediverse.services import Services
from fediverse.web.activitypub.signed_fetch import anyone


async def vocabulary(request: Request) -> Response:
    services: Services = request.state.services
    return anyone().respond(label_vocabulary(services.urls))


async def definition(request: Request) -> Response:
    services: Services = request.state.services
    kind = BY_SLUG.get(request.path_params["slug"])
    if kind is None:
        raise NotFound("No such label.")
    return anyone().respond(label_definition(kind, services.urls))


routes = [
    Route("/labels", vocabulary, methods=["GET", "HEAD"]),
    Route("/labels/{slug}", definition, methods=["GET", "HEAD"]),
]

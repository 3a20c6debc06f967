"""``POST /api/posts``: publish images (drafts) and/or a caption and a mood."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.services import Services
from fediverse.studio.publishing import publish_composition, read_composition
from fediverse.web.api.support import api_account, read_json_object
from fediverse.web.responses import JSONResponse


async def create_post(request: Request) -> Response:
    account = await api_account(request)
    services: Services = request.state.services
    post = await publish_composition(services, account, read_composition(await read_json_object(request)))
    # Post ids are 63-bit: a string, so JavaScript's numbers do not round them.
    return JSONResponse(
        {"id": str(post.id), "ap_id": post.ap_id, "url": post.url or post.ap_id},
        status_code=201,
        headers={"Location": post.url or post.ap_id},
    )


routes = [Route("/api/posts", create_post, methods=["POST"])]

"""The media API: upload an image as a draft, edit a draft's alt text and focal point, discard a draft."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.errors import BadRequest
from fediverse.services import Services
from fediverse.studio.drafts import MAX_ALT_TEXT, create_upload, discard_draft, media_json, update_draft
from fediverse.web.api.support import api_account, read_json_object
from fediverse.web.params import path_id
from fediverse.web.responses import JSONResponse
from fediverse.web.uploads import read_upload, read_upload_form


async def upload_media(request: Request) -> Response:
    account = await api_account(request)
    services: Services = request.state.services
    form = await read_upload_form(request)
    try:
        alt_text = form.get("alt_text") or ""
        if not isinstance(alt_text, str) or len(alt_text) > MAX_ALT_TEXT:
            raise BadRequest(f"Alt text may have at most {MAX_ALT_TEXT} characters.")
        data = await read_upload(form)
    finally:
        await form.close()
    media = await create_upload(services, account, data, alt_text)
    return JSONResponse(media_json(media, services.urls), status_code=201)


async def edit_media(request: Request) -> Response:
    account = await api_account(request)
    services: Services = request.state.services
    body = await read_json_object(request)
    alt_text = body.get("alt_text")
    if alt_text is not None and not isinstance(alt_text, str):
        raise BadRequest("alt_text must be text.")
    focal = {name: body.get(name) for name in ("focal_x", "focal_y")}
    for name, value in focal.items():
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise BadRequest(f"{name} must be a number from -1 to 1.")
    media = await update_draft(
        services,
        account,
        path_id(request),
        alt_text=alt_text,
        focal_x=None if focal["focal_x"] is None else float(focal["focal_x"]),
        focal_y=None if focal["focal_y"] is None else float(focal["focal_y"]),
    )
    return JSONResponse(media_json(media, services.urls))


async def delete_media(request: Request) -> Response:
    account = await api_account(request)
    await discard_draft(request.state.services, account, path_id(request))
    return Response(status_code=204)


routes = [
    Route("/api/media", upload_media, methods=["POST"]),
    Route("/api/media/{id:id}", edit_media, methods=["PATCH"]),
    Route("/api/media/{id:id}", delete_media, methods=["DELETE"]),
]

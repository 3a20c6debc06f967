"""The media API: upload an image as a draft, edit a draft's alt text and focal point, discard a draft."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive

from fediverse.errors import BadRequest, UnsupportedMediaType
from fediverse.imaging import ImageLimits
from fediverse.responses import JSONResponse
from fediverse.routes.api_support import api_account, path_id, read_json_object
from fediverse.routes.inbox import read_capped_body
from fediverse.services import Services
from fediverse.studio.drafts import MAX_ALT_TEXT, create_upload, discard_draft, media_json, update_draft

#: The body cap: the largest image ``fediverse.imaging`` accepts, plus room for the form around it.
MAX_UPLOAD_BYTES = ImageLimits().max_bytes + 64 * 1024


async def upload_media(request: Request) -> Response:
    account = await api_account(request)
    services: Services = request.state.services
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType("Upload the image as multipart/form-data with a 'file' field.")
    body = await read_capped_body(request, MAX_UPLOAD_BYTES)  # 413 before parsing anything
    form = await Request(request.scope, _replay(body)).form(max_files=1, max_fields=4, max_part_size=16 * 1024)
    try:
        upload = form.get("file")
        alt_text = form.get("alt_text") or ""
        if not isinstance(upload, UploadFile):
            raise BadRequest("Attach the image in a 'file' field.")
        if not isinstance(alt_text, str) or len(alt_text) > MAX_ALT_TEXT:
            raise BadRequest(f"Alt text may have at most {MAX_ALT_TEXT} characters.")
        data = await upload.read()
    finally:
        await form.close()
    media = await create_upload(services, account, data, alt_text)
    return JSONResponse(media_json(media, services.urls), status_code=201)


def _replay(body: bytes) -> Receive:
    """An ASGI ``receive`` that hands the already-read body to Starlette's form parser."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


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
    Route("/api/media/{id}", edit_media, methods=["PATCH"]),
    Route("/api/media/{id}", delete_media, methods=["DELETE"]),
]

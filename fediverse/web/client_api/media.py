"""Media through the client API: upload an image as a draft (``POST /api/v2/media`` and the older
``/api/v1/media``), read it, change its description and focal point, delete it.

Uploads go through our web UI's pipeline (``fediverse.web.uploads`` for the capped multipart read,
``fediverse.studio.drafts`` for decoding, cleaning, the three sizes and the blurhash), so the rules are
the same: images only, 40 MiB and 40 megapixels at most. Images are processed before the answer, so the
v2 upload answers 200 with a ``url`` (Mastodon does the same for images since 4.0), never 202.

As in Mastodon, an attachment is this API's only while it is a draft of the caller's: others' media and
media already in a post are 404 here (a posted image's description changes by editing the status).
Refusals of the file are 422, as Mastodon's; an oversized body is 413.
"""

from __future__ import annotations

import math

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.errors import BadRequest, UnprocessableEntity, UnsupportedMediaType
from fediverse.services import Services
from fediverse.studio.drafts import MAX_ALT_TEXT, create_upload, discard_draft, update_draft
from fediverse.web.client_api.auth import require_user
from fediverse.web.client_api.entities import media_attachment
from fediverse.web.client_api.errors import RecordNotFound
from fediverse.web.client_api.params import Params, nest, read_params
from fediverse.web.params import path_id
from fediverse.web.responses import JSONResponse
from fediverse.web.uploads import read_upload, read_upload_form
from storage.models import Account, Media, MediaState

SCOPE = "write:media"
#: Fields an upload form may have besides the file (Mastodon's, and a few that apps add).
_UPLOAD_FIELDS = 8


def read_focus(value: object) -> tuple[float, float] | None:
    """``"x,y"`` (or a JSON pair), each from -1 to 1; ``None`` when absent or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        parts: list[object] = [part.strip() for part in value.split(",")]
    elif isinstance(value, list | dict):
        parts = list(value.values()) if isinstance(value, dict) else list(value)
    else:
        parts = []
    try:
        x, y = (float(part) for part in parts if isinstance(part, str | int | float) and not isinstance(part, bool))
    except ValueError:
        raise UnprocessableEntity('focus must be two numbers from -1.0 to 1.0, as "x,y".') from None
    if not all(math.isfinite(number) and -1.0 <= number <= 1.0 for number in (x, y)):
        raise UnprocessableEntity('focus must be two numbers from -1.0 to 1.0, as "x,y".')
    return x, y


async def own_draft(services: Services, account: Account, media_id: int) -> Media:
    """The caller's draft ``media_id`` (404 for others' media, posted media and unknown ids)."""
    async with services.db.session() as session:
        media = await session.get(Media, media_id)
    if media is None or media.owner_account_id != account.id or media.state != MediaState.DRAFT:
        raise RecordNotFound()
    return media


async def _upload(request: Request) -> Media:
    account = await require_user(request, SCOPE)
    services: Services = request.state.services
    try:
        form = await read_upload_form(request, max_fields=_UPLOAD_FIELDS)
    except UnsupportedMediaType as error:
        raise UnprocessableEntity(str(error)) from error
    try:
        description, focus, data = await _read_upload(form)
    finally:
        await form.close()
    try:
        media = await create_upload(services, account, data, description or "")
    except (UnsupportedMediaType, BadRequest) as error:
        raise UnprocessableEntity(str(error), detail=error.detail) from error
    if focus is not None:
        assert media.id is not None
        media = await update_draft(services, account, media.id, focal_x=focus[0], focal_y=focus[1])
    return media


async def _read_upload(form: FormData) -> tuple[str | None, tuple[float, float] | None, bytes]:
    fields = Params(nest(form.multi_items()))
    description = fields.text("description", max_length=MAX_ALT_TEXT)
    focus = read_focus(fields.raw("focus"))
    try:
        data = await read_upload(form)
    except BadRequest as error:
        raise UnprocessableEntity(str(error)) from error
    return description, focus, data


def _answer(media: Media, request: Request) -> Response:
    """200 with the attachment; 206 (Mastodon's "still processing") while it has no ``url``."""
    document = media_attachment(media, request.state.services.urls)
    return JSONResponse(document, status_code=200 if document["url"] else 206)


async def upload_v2(request: Request) -> Response:
    """200 with the attachment (its ``url`` set); 202 would mean still processing, which images never are."""
    media = await _upload(request)
    document = media_attachment(media, request.state.services.urls)
    return JSONResponse(document, status_code=200 if document["url"] else 202)


async def upload_v1(request: Request) -> Response:
    return _answer(await _upload(request), request)


async def show_media(request: Request) -> Response:
    account = await require_user(request, SCOPE)
    return _answer(await own_draft(request.state.services, account, path_id(request)), request)


async def update_media(request: Request) -> Response:
    account = await require_user(request, SCOPE)
    services: Services = request.state.services
    media_id = path_id(request)
    await own_draft(services, account, media_id)
    params: Params = await read_params(request)
    description = params.text("description", max_length=MAX_ALT_TEXT)
    focus = read_focus(params.raw("focus"))
    media = await update_draft(
        services,
        account,
        media_id,
        alt_text=description,
        focal_x=focus[0] if focus else None,
        focal_y=focus[1] if focus else None,
    )
    return _answer(media, request)


async def delete_media(request: Request) -> Response:
    account = await require_user(request, SCOPE)
    services: Services = request.state.services
    media_id = path_id(request)
    await own_draft(services, account, media_id)
    await discard_draft(services, account, media_id)
    return JSONResponse({})


routes = [
    Route("/api/v2/media", upload_v2, methods=["POST"]),
    Route("/api/v1/media", upload_v1, methods=["POST"]),
    Route("/api/v1/media/{id:id}", show_media, methods=["GET"]),
    Route("/api/v1/media/{id:id}", update_media, methods=["PUT"]),
    Route("/api/v1/media/{id:id}", delete_media, methods=["DELETE"]),
]

"""Painting through the client API (``/api/v1/reverie/…``), so a script or a third-party app can paint and
post: the generator's capabilities, a generation job (create, status, live events, cancel).

The same internals as our web UI's ``/api/generations`` (``fediverse.studio.submission`` checks the request
against the backend and queues the job; the worker paints; ``fediverse.web.api.generation`` streams the
event log). What differs is the shape: ids are strings, parameters come as JSON or a form, an ``aspect``
may stand for a size, and the finished images are Mastodon ``MediaAttachment`` drafts whose ids
``POST /api/v1/statuses`` takes in ``media_ids``.

Whether the prompt is shown is chosen when posting, not when painting (the same images may be posted
either way), so ``hide_prompt`` here is refused with a pointer rather than silently dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.errors import BadRequest, Unauthorized, UnprocessableEntity
from fediverse.core.urls import Urls
from fediverse.generation import Capabilities, GenerationRequest
from fediverse.services import Services
from fediverse.studio.drafts import load_job_media
from fediverse.studio.submission import (
    cancel_job,
    capabilities_json,
    create_job,
    default_size,
    load_job,
    read_generation_request,
)
from fediverse.web.api.generation import job_events_response
from fediverse.web.client_api.auth import InsufficientScope, caller, covers, require_user
from fediverse.web.client_api.entities import Json, iso, media_attachment
from fediverse.web.client_api.params import Params, read_params
from fediverse.web.params import path_id
from fediverse.web.responses import JSONResponse
from storage.models import Account, GenerationJob, Media

WRITE_SCOPE = "write:media"
#: Reading a job (its status, its events, the generator) needs either scope.
READ_SCOPES = ("read:statuses", WRITE_SCOPE)
BASE_PATH = "/api/v1/reverie/generations"
#: Aspect ratios farther apart than this (in log scale, about 2 %) are different shapes.
_SAME_SHAPE = 0.02
_NAMED_ASPECTS = {"square": 1.0, "portrait": 2 / 3, "landscape": 3 / 2}
_RATIO = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*[:/x]\s*([0-9]+(?:\.[0-9]+)?)\s*$")
_TEXT_FIELDS = ("prompt", "negative_prompt", "style", "remix_of")
_NUMBER_FIELDS = ("seed", "width", "height", "steps", "variants")


async def _reader(request: Request) -> Account:
    """A user token with ``read:statuses`` or ``write:media`` (a painting script needs only the latter)."""
    found = await caller(request)
    if found is None:
        raise Unauthorized("The access token is invalid.")
    if not any(covers(found.scopes, scope) for scope in READ_SCOPES):
        raise InsufficientScope(" or ".join(READ_SCOPES))
    if found.account is None:
        raise Unauthorized("This method requires an authenticated user.")
    return found.account


def parse_aspect(value: str) -> float:
    """``"16:9"``, ``"3/2"``, ``"4x3"``, ``"1.5"`` or ``square``/``portrait``/``landscape``, from 1:4 to 4:1."""
    named = _NAMED_ASPECTS.get(value.strip().lower())
    ratio = _RATIO.match(value)
    try:
        if named is not None:
            aspect = named
        elif ratio:
            aspect = float(ratio.group(1)) / float(ratio.group(2))
        else:
            aspect = float(value)
    except (ValueError, ZeroDivisionError):
        aspect = math.nan
    if not (math.isfinite(aspect) and 0.25 <= aspect <= 4.0):
        raise UnprocessableEntity('aspect must be a ratio such as "16:9", from 1:4 to 4:1.')
    return aspect


def size_for_aspect(aspect: float, capabilities: Capabilities) -> tuple[int, int]:
    """The backend's offered size closest in shape (the default size on a tie, then the largest); a
    backend that paints any size gets one of the default size's area when no offered size has the shape."""
    default = default_size(capabilities)

    def distance(size: tuple[int, int]) -> float:
        return abs(math.log(size[0] / size[1]) - math.log(aspect))

    best = min(capabilities.sizes, key=lambda size: (round(distance(size), 3), size != default, -size[0] * size[1]))
    if distance(best) <= _SAME_SHAPE or not capabilities.arbitrary_sizes:
        return best
    area = min(default[0] * default[1], capabilities.max_pixels)
    width, height = math.sqrt(area * aspect), math.sqrt(area / aspect)
    shrink = min(1.0, capabilities.max_side / max(width, height))
    multiple = capabilities.size_multiple

    def fit(side: float) -> int:
        return max(capabilities.min_side, int(side * shrink) // multiple * multiple)

    return fit(width), fit(height)


def read_request(params: Params, capabilities: Capabilities) -> GenerationRequest:
    """A generation request from JSON or form parameters, checked against the backend (422 says what is wrong)."""
    if "hide_prompt" in params:
        raise UnprocessableEntity(
            "Whether the prompt is shown is chosen when posting the images (POST /api/v1/statuses), not here."
        )
    body: dict[str, object] = {}
    for name in _TEXT_FIELDS:
        value = params.text(name)
        if value is not None:
            body[name] = value
    for name in _NUMBER_FIELDS:
        number = params.integer(name)
        if number is not None:
            body[name] = number
    aspect = params.text("aspect")
    if aspect:
        if "width" in body or "height" in body:
            raise UnprocessableEntity("Give either width and height or aspect, not both.")
        body["width"], body["height"] = size_for_aspect(parse_aspect(aspect), capabilities)
    try:
        return read_generation_request(body, capabilities)
    except BadRequest as error:
        raise UnprocessableEntity(str(error)) from error


def generation(job: GenerationJob, media: Sequence[Media], urls: Urls) -> Json:
    """A job as the client API shows it; ``media_ids`` are the finished drafts, for a status's ``media_ids``."""
    url = urls.absolute(f"{BASE_PATH}/{job.id}")
    return {
        "id": str(job.id),
        "state": job.state,
        "progress": {"step": job.progress_step, "total": job.progress_total},
        "error": job.error,
        "cancel_requested": job.cancel_requested,
        "backend": job.backend,
        "request": job.request,
        "created_at": iso(job.created_at),
        "finished_at": iso(job.finished_at),
        "media_ids": [str(item.id) for item in media],
        "media_attachments": [media_attachment(item, urls) for item in media],
        "url": url,
        "events_url": f"{url}/events",
    }


async def _document(services: Services, job: GenerationJob) -> Json:
    return generation(job, await load_job_media(services.db, job.id), services.urls)


async def generator(request: Request) -> Response:
    await _reader(request)
    backend = request.state.services.studio.generator
    return JSONResponse(capabilities_json(backend.name, backend.capabilities))


async def create_generation(request: Request) -> Response:
    account = await require_user(request, WRITE_SCOPE)
    services: Services = request.state.services
    wanted = read_request(await read_params(request), services.studio.generator.capabilities)
    job = await create_job(services, account, wanted)
    document = generation(job, [], services.urls)
    return JSONResponse(document, status_code=202, headers={"Location": document["url"]})


async def show_generation(request: Request) -> Response:
    account = await _reader(request)
    services: Services = request.state.services
    return JSONResponse(await _document(services, await load_job(services, account, path_id(request))))


async def generation_events(request: Request) -> Response:
    account = await _reader(request)
    return await job_events_response(request, await load_job(request.state.services, account, path_id(request)))


async def cancel_generation(request: Request) -> Response:
    """Cancelled at once when queued; a running job is asked to stop (``cancel_requested``) and its event
    stream ends with ``cancelled``. 409 once it succeeded or failed."""
    account = await require_user(request, WRITE_SCOPE)
    services: Services = request.state.services
    job_id = path_id(request)
    await cancel_job(services, account, job_id)
    return JSONResponse(await _document(services, await load_job(services, account, job_id)))


routes = [
    Route("/api/v1/reverie/generator", generator, methods=["GET"]),
    Route(BASE_PATH, create_generation, methods=["POST"]),
    Route(f"{BASE_PATH}/{{id:id}}", show_generation, methods=["GET"]),
    Route(f"{BASE_PATH}/{{id:id}}/events", generation_events, methods=["GET"]),
    Route(f"{BASE_PATH}/{{id:id}}/cancel", cancel_generation, methods=["POST"]),
]

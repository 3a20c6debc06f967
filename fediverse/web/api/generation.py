"""The generation API: the backend's capabilities, jobs (create, status, cancel), live progress as
server-sent events, and remix recipes. See ``docs/api.md`` for the contract with the web UI.

Progress streams read the job's event log from the database (the worker may be another process), so a
reconnecting ``EventSource`` resumes exactly after ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from fediverse.core.errors import BadRequest
from fediverse.core.ids import parse_id
from fediverse.services import Services
from fediverse.studio.drafts import load_job_media, media_json
from fediverse.studio.events import TERMINAL_EVENTS, last_event_seq, read_events
from fediverse.studio.remix import remix_recipe
from fediverse.studio.submission import (
    cancel_job,
    capabilities_json,
    create_job,
    load_job,
    read_generation_request,
)
from fediverse.web.api.support import api_account, read_json_object
from fediverse.web.params import path_id
from fediverse.web.responses import JSONResponse
from storage.db import Database
from storage.models import GenerationJob, JobEvent

#: Seconds between comment lines on an idle stream (proxies close silent connections).
KEEPALIVE_SECONDS = 15.0
#: Seconds between looks at the event log.
POLL_SECONDS = 0.25
#: A stream ends after this long; the browser reconnects and resumes from its last event id.
MAX_STREAM_SECONDS = 3600.0


async def generator_capabilities(request: Request) -> Response:
    await api_account(request)
    services: Services = request.state.services
    generator = services.studio.generator
    return JSONResponse(capabilities_json(generator.name, generator.capabilities))


async def create_generation(request: Request) -> Response:
    account = await api_account(request)
    services: Services = request.state.services
    generation = read_generation_request(await read_json_object(request), services.studio.generator.capabilities)
    job = await create_job(services, account, generation)
    base = services.urls.absolute(f"/api/generations/{job.id}")
    return JSONResponse(
        {"id": job.id, "state": job.state, "events_url": f"{base}/events", "status_url": base},
        status_code=202,
        headers={"Location": base},
    )


async def generation_status(request: Request) -> Response:
    account = await api_account(request)
    services: Services = request.state.services
    job = await load_job(services, account, path_id(request))
    documents = [media_json(item, services.urls) for item in await load_job_media(services.db, job.id)]
    return JSONResponse(
        {
            "id": job.id,
            "state": job.state,
            "progress": {"step": job.progress_step, "total": job.progress_total},
            "error": job.error,
            "request": job.request,
            "media": documents,
        }
    )


async def cancel_generation(request: Request) -> Response:
    account = await api_account(request)
    state = await cancel_job(request.state.services, account, path_id(request))
    return JSONResponse({"state": state}, status_code=202)


async def generation_events(request: Request) -> Response:
    account = await api_account(request)
    job = await load_job(request.state.services, account, path_id(request))
    return await job_events_response(request, job)


async def job_events_response(request: Request, job: GenerationJob) -> StreamingResponse:
    """The job's events after the request's ``Last-Event-ID`` as a server-sent event stream (also the
    client API's, ``fediverse.web.client_api.generations``)."""
    services: Services = request.state.services
    assert job.id is not None
    after = min(_last_event_id(request), await last_event_seq(services.db, job.id))
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        stream_job_events(services.db, job.id, after), media_type="text/event-stream", headers=headers
    )


def _last_event_id(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id") or "0"
    seq = parse_id(raw.strip(), minimum=0)
    if seq is None:
        raise BadRequest("Last-Event-ID must be the id of an event.")
    return seq


async def stream_job_events(db: Database, job_id: int, after: int) -> AsyncIterator[str]:
    """Events after ``after`` as they are written, until a terminal one; comments keep the line open."""
    started = last_sent = time.monotonic()
    yield "retry: 2000\n\n"
    while time.monotonic() - started < MAX_STREAM_SECONDS:
        events = await read_events(db, job_id, after)
        for event in events:
            yield format_event(event)
            after = event.seq
            if event.event in TERMINAL_EVENTS:
                return
        now = time.monotonic()
        if events:
            last_sent = now
        elif now - last_sent >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = now
        await asyncio.sleep(POLL_SECONDS)


def format_event(event: JobEvent) -> str:
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.seq}\nevent: {event.event}\ndata: {data}\n\n"


async def remix(request: Request) -> Response:
    account = await api_account(request)
    source = request.query_params.get("source", "").strip()
    if not source:
        raise BadRequest("Say which post to remix: ?source=<its address>.")
    return JSONResponse(await remix_recipe(request.state.services, account, source))


routes = [
    Route("/api/generator", generator_capabilities),
    Route("/api/generations", create_generation, methods=["POST"]),
    Route("/api/generations/{id:id}", generation_status),
    Route("/api/generations/{id:id}/events", generation_events),
    Route("/api/generations/{id:id}/cancel", cancel_generation, methods=["POST"]),
    Route("/api/remix", remix),
]

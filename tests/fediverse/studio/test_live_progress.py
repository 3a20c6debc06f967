"""Progress as a browser sees it: server-sent events from a real uvicorn on 127.0.0.1 with its own worker.

(``TestClient``/``ASGITransport`` hand a streaming body over only when it ends, so streams are read from a
real server here.) The image service for cancel and timeout cases is a fake on 127.0.0.1 that hangs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from starlette.responses import Response

from fediverse.core.accounts import create_account
from fediverse.core.config import Settings
from fediverse.services import open_services
from fediverse.studio.execution import INTERRUPTED
from fediverse.web.api import generation as api_generation
from fediverse.web.app import create_app
from fediverse.web.sessions import SESSION_COOKIE, start_session
from storage.models import GenerationJob
from tests.fediverse.studio.conftest import openai_settings
from tests.image_service import FakeImagesAPI
from tests.peers import serving_in_thread
from tests.processes import free_port

TIMEOUT = httpx.Timeout(10.0)


@dataclass
class LiveSession:
    base_url: str
    cookie: str
    csrf_token: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, cookies={SESSION_COOKIE: self.cookie}, timeout=TIMEOUT)

    def create_job(self, http: httpx.Client, **request: Any) -> int:
        response = http.post("/api/generations", json=request, headers={"X-CSRF-Token": self.csrf_token})
        assert response.status_code == 202, response.text
        return int(response.json()["id"])

    def cancel(self, http: httpx.Client, job_id: int) -> httpx.Response:
        return http.post(f"/api/generations/{job_id}/cancel", headers={"X-CSRF-Token": self.csrf_token})


def read_events(response: httpx.Response) -> Iterator[tuple[int, str, Any]]:
    """(id, event, data) as they arrive; comment lines come through as (0, ":", text)."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            yield 0, ":", line
        elif line:
            name, _, value = line.partition(": ")
            fields[name] = value
        elif "event" in fields:
            yield int(fields["id"]), fields["event"], json.loads(fields["data"])
            fields = {}


def sign_up(settings: Settings, username: str) -> tuple[str, str]:
    """An account and a real session in the database, made before the server starts: (cookie, CSRF token)."""

    async def make() -> tuple[str, str]:
        async with open_services(settings) as services:
            account = await create_account(services.db, services.urls, username)
            response = Response()
            web_session = await start_session(services, account, response)
        cookie = SimpleCookie(response.headers["set-cookie"])[SESSION_COOKIE].value
        return cookie, web_session.csrf_token

    return asyncio.run(make())


def live_server(settings: Settings, port: int) -> AbstractContextManager[uvicorn.Server]:
    """Our whole app (lifespan, worker) under uvicorn on 127.0.0.1."""
    return serving_in_thread(create_app(settings), port, lifespan="on", timeout=20)


@pytest.fixture
def start_live(make_settings: Callable[..., Settings], database_url: str) -> Iterator[Callable[..., LiveSession]]:
    """``start_live(**environment)``: our app on a free port with its worker, and a signed-in session."""
    servers: list[Any] = []

    def start(**environment: str) -> LiveSession:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        environment = {"REVERIE_BASE_URL": base_url, "REVERIE_RUN_WORKER": "true", **environment}
        settings = make_settings(database_url, **environment)
        cookie, csrf_token = sign_up(settings, "ana")
        context = live_server(settings, port)
        context.__enter__()
        servers.append(context)
        return LiveSession(base_url, cookie, csrf_token)

    yield start
    for context in servers:
        context.__exit__(None, None, None)


def test_progress_streams_live_and_a_reconnect_resumes(start_live: Callable[..., LiveSession]) -> None:
    # Given a signed-in browser and a server whose worker runs jobs as they come
    live = start_live()
    with live.client() as http:
        job_id = live.create_job(http, prompt="a starry night over a quiet city", width=768, height=768, variants=2)
        # When the browser follows the job's events
        with http.stream("GET", f"/api/generations/{job_id}/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-cache"
            events = list(read_events(response))  # the stream ends by itself after the last event
        # Then it sees every stage in order, ending with the finished images
        names = [name for _, name, _ in events]
        assert names[:2] == ["queued", "started"] and names[-1] == "completed"
        assert "progress" in names
        media = events[-1][2]["media"]
        assert [item["seed"] is not None for item in media] == [True, True]
        # When it reconnects after the "started" event, it gets exactly the rest
        with http.stream("GET", f"/api/generations/{job_id}/events", headers={"Last-Event-ID": "2"}) as response:
            assert list(read_events(response)) == events[2:]


def test_cancelling_mid_stream_ends_the_job_and_the_stream(
    start_live: Callable[..., LiveSession], images: tuple[FakeImagesAPI, str]
) -> None:
    # Given a job the image service is working on (it does not answer until told)
    fake, url = images
    fake.mode = "hang"
    live = start_live(**openai_settings(url))
    with live.client() as http:
        job_id = live.create_job(http, prompt="a lighthouse in the fog", width=1024, height=1024)
        with http.stream("GET", f"/api/generations/{job_id}/events") as response:
            events = read_events(response)
            assert [next(events)[1], next(events)[1]] == ["queued", "started"]
            assert fake.received.wait(10)
            # When the browser cancels it while the stream is open
            cancelled = live.cancel(http, job_id)
            assert cancelled.status_code == 202 and cancelled.json() == {"state": "running"}
            # Then the stream reports the cancellation and ends
            rest = [name for _, name, _ in events if name != ":"]
        assert rest[-1] == "cancelled" and set(rest[:-1]) <= {"progress"}
        status = http.get(f"/api/generations/{job_id}").json()
        assert status["state"] == "cancelled" and status["media"] == []


def test_an_idle_stream_sends_keep_alive_comments(
    start_live: Callable[..., LiveSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_generation, "KEEPALIVE_SECONDS", 0.2)
    live = start_live(REVERIE_RUN_WORKER="false")  # nobody runs the job: it stays queued
    with live.client() as http:
        job_id = live.create_job(http, prompt="sea", width=64, height=64)
        with http.stream("GET", f"/api/generations/{job_id}/events") as response:
            events = read_events(response)
            assert next(events)[1] == "queued"
            assert next(events) == (0, ":", ": keep-alive")


def test_a_job_that_outlives_its_time_limit_fails(
    start_live: Callable[..., LiveSession], images: tuple[FakeImagesAPI, str]
) -> None:
    fake, url = images
    fake.mode = "hang"
    live = start_live(**openai_settings(url, REVERIE_GENERATION_TIMEOUT="1"))
    with live.client() as http:
        job_id = live.create_job(http, prompt="a lighthouse in the fog", width=1024, height=1024)
        with http.stream("GET", f"/api/generations/{job_id}/events") as response:
            last = list(read_events(response))[-1]
        assert last[1] == "failed"
        assert "1 s" in last[2]["error"] or "within 1 seconds" in last[2]["error"]
        assert http.get(f"/api/generations/{job_id}").json()["state"] == "failed"


def test_a_job_running_when_the_server_stops_is_failed_not_left_running(
    make_settings: Callable[..., Settings], database_url: str, images: tuple[FakeImagesAPI, str]
) -> None:
    # Given a server painting a job
    fake, url = images
    fake.mode = "hang"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = make_settings(database_url, REVERIE_BASE_URL=base_url, REVERIE_RUN_WORKER="true", **openai_settings(url))
    cookie, csrf_token = sign_up(settings, "ana")
    live = LiveSession(base_url, cookie, csrf_token)
    with live_server(settings, port), live.client() as http:
        job_id = live.create_job(http, prompt="a lighthouse in the fog", width=1024, height=1024)
        assert fake.received.wait(10)
    # When it has stopped, the job is failed with a message to try again

    async def load() -> GenerationJob | None:
        async with open_services(settings) as services, services.db.session() as session:
            return await session.scalar(select(GenerationJob).where(GenerationJob.id == job_id))

    job = asyncio.run(load())
    assert job is not None
    assert (job.state, job.error) == ("failed", INTERRUPTED)

"""Generation jobs through the JSON API: queued -> running -> succeeded | failed | cancelled, drafts, limits,
cancel, and recovery of a job a crashed worker left running."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from PIL import Image
from sqlalchemy import update
from starlette.testclient import TestClient

from fediverse.generation import ALGORITHMIC_MEDIA, GenerationRequest
from fediverse.generation.provenance import read_parameters_text
from fediverse.studio.drafts import load_job_media
from fediverse.studio.execution import INTERRUPTED, execute_job
from fediverse.studio.generation_queue import recover_abandoned_jobs
from fediverse.studio.submission import create_job, load_job
from storage.models import Account, GenerationJob, JobState
from storage.types import utcnow
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.generation.test_provenance import xmp_of
from tests.fediverse.studio.conftest import SMALL, Browser, create_user, drain, generate, openai_settings, sign_in
from tests.image_service import FakeImagesAPI


def events_of(browser: Browser, job_id: int, last_event_id: int | None = None) -> list[tuple[int, str, Any]]:
    """The job's server-sent events as (id, event, data); the stream of a finished job ends by itself."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    response = browser.get(f"/api/generations/{job_id}/events", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in response.text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in fields:
            events.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
    return events


def test_the_generator_describes_what_it_can_do(ana: Browser) -> None:
    capabilities = ana.get("/api/generator").json()
    assert capabilities["backend"] == "procedural"
    assert "watercolor" in capabilities["styles"]
    assert [1024, 1024] in capabilities["sizes"]
    assert (capabilities["default_width"], capabilities["default_height"]) == (1024, 1024)
    assert capabilities["supports_seed"] and capabilities["supports_negative_prompt"]
    assert capabilities["supports_steps"] is False
    assert capabilities["max_variants"] == 4 and capabilities["max_side"] == 2048


def test_a_job_paints_drafts_and_reports_every_stage(ana: Browser) -> None:
    # Given a signed-in person asking for two images
    created = ana.post("/api/generations", json={"prompt": "a calm lake at dawn", "seed": 42, "variants": 2, **SMALL})
    assert created.status_code == 202
    job = created.json()
    assert job["state"] == "queued"
    assert job["status_url"] == f"{TEST_BASE_URL}/api/generations/{job['id']}"
    assert job["events_url"] == job["status_url"] + "/events"
    # Before the worker runs, the job waits
    assert ana.get(f"/api/generations/{job['id']}").json()["state"] == "queued"
    # When the worker runs it
    drain(ana.client)
    # Then it succeeded with two draft images from consecutive seeds
    status = ana.get(f"/api/generations/{job['id']}").json()
    assert status["state"] == "succeeded" and status["error"] is None
    assert status["progress"]["step"] == status["progress"]["total"] > 0
    assert status["request"]["prompt"] == "a calm lake at dawn"
    assert [media["seed"] for media in status["media"]] == [42, 43]
    first = status["media"][0]
    assert (first["width"], first["height"], first["mime"]) == (64, 64, "image/jpeg")
    assert first["alt_text"].startswith("Procedurally generated illustration")
    assert first["digital_source_type"].endswith("/algorithmicMedia")
    assert first["generation"]["prompt"] == "a calm lake at dawn"
    assert len(first["blurhash"]) == 36  # 4x4 components, as Mastodon makes them
    # And the progress stream tells the whole story, progress written at a bounded rate
    events = events_of(ana, job["id"])
    names = [name for _, name, _ in events]
    assert names[:2] == ["queued", "started"] and names[-1] == "completed"
    assert set(names[2:-1]) == {"progress"}
    steps = [data for _, name, data in events if name == "progress"]
    assert 1 <= len(steps) <= 3 < status["progress"]["total"]  # 12 painter steps, coalesced
    total = status["progress"]["total"]
    assert steps[-1] == {"step": total, "total": total, "stage": "postprocess"}
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))
    assert events[-1][2]["media"] == status["media"]


def test_a_reconnecting_stream_resumes_after_the_last_event_it_saw(ana: Browser) -> None:
    job = generate(ana)
    everything = events_of(ana, job["id"])
    assert events_of(ana, job["id"], last_event_id=2) == everything[2:]
    assert events_of(ana, job["id"], last_event_id=len(everything) - 1) == everything[-1:]
    assert ana.get(f"/api/generations/{job['id']}/events", headers={"Last-Event-ID": "x"}).status_code == 400


def test_generated_files_carry_their_provenance(ana: Browser) -> None:
    job = generate(ana, prompt="misty mountains at sunrise", seed=5, negative_prompt="people")
    url = job["media"][0]["url"].removeprefix(TEST_BASE_URL)
    data = ana.get(url).content
    with Image.open(io.BytesIO(data)) as image:
        parameters = read_parameters_text(image)
        xmp = xmp_of(image)
    assert parameters is not None
    assert parameters.startswith("misty mountains at sunrise\nNegative prompt: people\n")
    assert "Seed: 5" in parameters and "Size: 64x64" in parameters
    assert f"<Iptc4xmpExt:DigitalSourceType>{ALGORITHMIC_MEDIA}</Iptc4xmpExt:DigitalSourceType>" in xmp
    assert "misty mountains at sunrise" in xmp


def test_bad_requests_get_messages_a_person_can_act_on(ana: Browser) -> None:
    cases: list[tuple[Any, str]] = [
        ({"prompt": "   "}, "prompt is empty"),
        ({"prompt": "sea", "style": "baroque"}, "Unknown style"),
        ({"prompt": "sea", "width": 4096, "height": 4096}, "between 64 and 2048"),
        ({"prompt": "sea", "variants": 5}, "1 to 4 images"),
        ({"prompt": "sea", "variants": 0}, "1 to 4 images"),
        ({"prompt": "sea", "seed": "seven"}, "seed must be a whole number"),
        ({"prompt": "sea", "seed": True}, "seed must be a whole number"),
        ({"prompt": "sea", "steps": 4}, "no step setting"),
        ({"prompt": ["sea"]}, "prompt must be text"),
        ({"prompt": "sea", "remix_of": "javascript:alert(1)"}, "remix_of"),
        ([1, 2], "JSON object"),
    ]
    for body, message in cases:
        response = ana.post("/api/generations", json=body)
        assert response.status_code == 400, body
        assert message in response.json()["error"], (body, response.json())
    not_json = ana.post("/api/generations", content=b"prompt=sea", headers={"Content-Type": "text/plain"})
    assert not_json.status_code == 415
    broken = ana.post("/api/generations", content=b"{", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]
    assert drain(ana.client) == 0  # nothing was queued


def test_the_api_needs_a_session_and_csrf_token(client: TestClient, ana: Browser) -> None:
    assert ana.client.post("/api/generations", json={"prompt": "sea"}).status_code == 403
    client.cookies.clear()
    for method, path in (("GET", "/api/generator"), ("POST", "/api/generations"), ("GET", "/api/generations/1")):
        response = client.request(method, path, json={"prompt": "sea"})
        assert response.status_code == 401
        assert response.json() == {"error": "Please sign in."}


def test_each_account_has_a_limited_queue(client: TestClient, ana: Browser, make_user: Callable[..., Account]) -> None:
    # Given ana has four jobs waiting (the default allowance)
    for _ in range(4):
        assert ana.post("/api/generations", json={"prompt": "sea", **SMALL}).status_code == 202
    # When she asks for a fifth, she is told to wait
    refused = ana.post("/api/generations", json={"prompt": "sea", **SMALL})
    assert refused.status_code == 429
    assert "wait for one to finish" in refused.json()["error"]
    assert int(refused.headers["Retry-After"]) > 0
    # And another person is not affected
    ben = sign_in(client, make_user("ben"))
    assert ben.post("/api/generations", json={"prompt": "sea", **SMALL}).status_code == 202
    # Once the queue is worked off, ana may ask again
    drain(client)
    ana = sign_in(client, ana.account)
    assert ana.post("/api/generations", json={"prompt": "sea", **SMALL}).status_code == 202


def test_cancelling_a_queued_job_stops_it_before_it_starts(ana: Browser) -> None:
    job_id = ana.post("/api/generations", json={"prompt": "sea", **SMALL}).json()["id"]
    cancelled = ana.post(f"/api/generations/{job_id}/cancel")
    assert cancelled.status_code == 202 and cancelled.json() == {"state": "cancelled"}
    assert ana.post(f"/api/generations/{job_id}/cancel").json() == {"state": "cancelled"}  # idempotent
    drain(ana.client)
    status = ana.get(f"/api/generations/{job_id}").json()
    assert status["state"] == "cancelled" and status["media"] == []
    assert [name for _, name, _ in events_of(ana, job_id)] == ["queued", "cancelled"]


def test_a_finished_job_cannot_be_cancelled(ana: Browser) -> None:
    job = generate(ana)
    refused = ana.post(f"/api/generations/{job['id']}/cancel")
    assert refused.status_code == 409
    assert "already finished" in refused.json()["error"]


def test_jobs_are_private_to_their_owner(client: TestClient, ana: Browser, make_user: Callable[..., Account]) -> None:
    job_id = ana.post("/api/generations", json={"prompt": "sea", **SMALL}).json()["id"]
    ben = sign_in(client, make_user("ben"))
    for path in (f"/api/generations/{job_id}", f"/api/generations/{job_id}/events", "/api/generations/999"):
        assert ben.get(path).status_code == 404
    assert ben.post(f"/api/generations/{job_id}/cancel").status_code == 404
    assert ben.get("/api/generations/abc").status_code == 404


def test_a_job_left_running_by_a_crashed_worker_is_failed_not_forgotten(ana: Browser) -> None:
    # Given a job that a worker started and then died with (its lease ran out, nobody renews it)
    job_id = ana.post("/api/generations", json={"prompt": "sea", **SMALL}).json()["id"]
    services = services_of(ana.client)

    async def crash_while_running() -> None:
        async with services.db.transaction() as session:
            await session.execute(
                update(GenerationJob)
                .where(GenerationJob.id == job_id)
                .values(state=JobState.RUNNING, started_at=utcnow(), locked_until=utcnow() - timedelta(seconds=1))
            )

    run_in_app(ana.client, crash_while_running)
    # When a worker runs again
    drain(ana.client)
    # Then the job failed with a message to try again, and the stream says so
    status = ana.get(f"/api/generations/{job_id}").json()
    assert status["state"] == "failed"
    assert status["error"] == INTERRUPTED
    assert events_of(ana, job_id)[-1][1:] == ("failed", {"error": INTERRUPTED})
    # And the person can ask again straight away
    assert ana.post("/api/generations", json={"prompt": "sea", **SMALL}).status_code == 202


def test_a_queued_job_claimed_by_a_crashed_worker_runs_when_the_claim_lapses(ana: Browser) -> None:
    job_id = ana.post("/api/generations", json={"prompt": "sea", **SMALL}).json()["id"]
    services = services_of(ana.client)

    async def claim_then_die(lapsed: bool) -> None:
        until = utcnow() + (timedelta(seconds=-1) if lapsed else timedelta(minutes=5))
        async with services.db.transaction() as session:
            await session.execute(update(GenerationJob).where(GenerationJob.id == job_id).values(locked_until=until))

    run_in_app(ana.client, claim_then_die, False)
    drain(ana.client)
    assert ana.get(f"/api/generations/{job_id}").json()["state"] == "queued"  # still claimed
    run_in_app(ana.client, claim_then_die, True)
    drain(ana.client)
    assert ana.get(f"/api/generations/{job_id}").json()["state"] == "succeeded"


def test_a_failing_image_service_fails_the_job_with_its_reason(
    client_with: Callable[..., TestClient], images: tuple[FakeImagesAPI, str]
) -> None:
    # Given an instance whose image service answers with errors
    fake, url = images
    fake.mode = "policy"
    client = client_with(**openai_settings(url))
    ana = sign_in(client, create_user(client, "ana"))
    capabilities = ana.get("/api/generator").json()
    assert capabilities["backend"] == "openai" and capabilities["supports_seed"] is False
    # When a job runs, it fails with the service's reason, and no image is left behind
    job = generate(ana, prompt="a lighthouse", width=1024, height=1024)
    assert job["state"] == "failed" and job["media"] == []
    assert job["error"] == "The image service refused this prompt under its content policy."
    assert events_of(ana, job["id"])[-1][1] == "failed"
    # And a seed, which this backend cannot honour, is refused up front
    refused = ana.post("/api/generations", json={"prompt": "sea", "seed": 1, "width": 1024, "height": 1024})
    assert refused.status_code == 400 and "cannot reproduce a seed" in refused.json()["error"]


def test_images_of_a_job_failed_by_recovery_meanwhile_are_not_kept(
    client_with: Callable[..., TestClient], images: tuple[FakeImagesAPI, str]
) -> None:
    # Given a worker painting a job whose lease another worker saw lapse (a long stall, say)
    fake, url = images
    fake.mode = "hang"
    client = client_with(**openai_settings(url))
    ana = sign_in(client, create_user(client, "ana"))
    services = services_of(client)

    async def stall_then_finish() -> tuple[str, int, list[str]]:
        request = GenerationRequest(prompt="a lighthouse", width=1024, height=1024)
        job = await create_job(services, ana.account, request, claimed=True)
        painting = asyncio.create_task(execute_job(services, job.id or 0))
        assert await asyncio.to_thread(fake.received.wait, 10)
        async with services.db.session() as session:
            stalled = await session.get(GenerationJob, job.id)
            assert stalled is not None and stalled.state == JobState.RUNNING and stalled.locked_until
        # (judged from a moment after the lease, however often the painter renewed it meanwhile)
        assert await recover_abandoned_jobs(services, now=utcnow() + timedelta(minutes=5)) == 1
        # When the painting comes back after all
        fake.release.set()
        await painting
        files = sorted(str(path) for path in services.settings.media_dir.rglob("*.*"))
        finished = await load_job(services, ana.account, job.id or 0)
        return finished.state, len(await load_job_media(services.db, job.id)), files

    state, drafts, files = run_in_app(client, stall_then_finish)
    # Then the job stays failed, and neither draft rows nor files are left behind
    assert (state, drafts, files) == ("failed", 0, [])

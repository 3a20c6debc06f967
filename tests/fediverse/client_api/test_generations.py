"""Painting through the client API: ``/api/v1/reverie/generator`` and ``/api/v1/reverie/generations``
(create from JSON or a form, status, server-sent events, cancel); the finished images are the caller's
draft ``MediaAttachment``s, ready for a status's ``media_ids``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from fediverse.generation import Capabilities
from fediverse.studio.publishing import Composition, publish_composition
from fediverse.web.client_api.generations import size_for_aspect
from storage.models import Account
from tests.conftest import TEST_BASE_URL, run_in_app, services_of

Headers = dict[str, str]
TokenFor = Callable[..., Headers]
SMALL = {"width": 64, "height": 64}
PATH = "/api/v1/reverie/generations"


def drain(client: TestClient) -> int:
    """Run the worker until nothing is due (the client fixture's worker does not run by itself)."""
    return run_in_app(client, client.app_state["worker"].drain)  # type: ignore[no-any-return]


def create(client: TestClient, headers: Headers, **request: Any) -> dict[str, Any]:
    response = client.post(PATH, headers=headers, json={"prompt": "a calm lake at dawn", **SMALL, **request})
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


def events_of(client: TestClient, headers: Headers, job_id: str, last_event_id: int | None = None) -> list[Any]:
    extra = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    response = client.get(f"{PATH}/{job_id}/events", headers={**headers, **extra})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in response.text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in fields:
            events.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
    return events


@pytest.fixture
def ana(make_user: Callable[..., Account]) -> Account:
    return make_user("ana")


@pytest.fixture
def headers(ana: Account, token_for: TokenFor) -> Headers:
    return token_for(ana, "read write:media")


def test_the_generator_says_what_it_can_paint(client: TestClient, headers: Headers) -> None:
    response = client.get("/api/v1/reverie/generator", headers=headers)
    assert response.status_code == 200
    capabilities = response.json()
    assert capabilities["backend"] == "procedural" and [1024, 1024] in capabilities["sizes"]
    assert capabilities["supports_seed"] and "watercolor" in capabilities["styles"]


def test_a_generation_paints_draft_attachments_for_a_status(client: TestClient, ana: Account, headers: Headers) -> None:
    # Given an app asking for two images
    job = create(client, headers, seed=42, variants=2, style="watercolor")
    assert isinstance(job["id"], str) and job["state"] == "queued"
    assert job["url"] == f"{TEST_BASE_URL}{PATH}/{job['id']}" and job["events_url"] == job["url"] + "/events"
    assert job["media_ids"] == [] and job["media_attachments"] == []
    # While the worker has not run, it waits
    assert client.get(f"{PATH}/{job['id']}", headers=headers).json()["state"] == "queued"
    # When the worker paints it
    drain(client)
    done = client.get(f"{PATH}/{job['id']}", headers=headers)
    assert done.status_code == 200
    status = done.json()
    # Then it succeeded with two drafts, as Mastodon attachments with their urls
    assert status["state"] == "succeeded" and status["error"] is None and status["finished_at"]
    assert status["progress"]["step"] == status["progress"]["total"] > 0
    assert status["request"]["prompt"] == "a calm lake at dawn" and status["request"]["seed"] == 42
    assert len(status["media_ids"]) == 2
    assert [item["id"] for item in status["media_attachments"]] == status["media_ids"]
    for attachment in status["media_attachments"]:
        assert attachment["type"] == "image" and attachment["url"].startswith(f"{TEST_BASE_URL}/media/")
        assert attachment["meta"]["original"]["size"] == "64x64"
        assert attachment["description"].startswith("Procedurally generated")
    # And each is the caller's draft, which the media API shows them (and only them)
    first = status["media_ids"][0]
    mine = client.get(f"/api/v1/media/{first}", headers=headers)
    assert mine.status_code == 200 and mine.json() == status["media_attachments"][0]
    # And posting it (as POST /api/v1/statuses does, through the studio) attaches it
    services = services_of(client)
    composition = Composition(media_ids=(int(first),), caption="painted from an app")
    post = run_in_app(client, publish_composition, services, ana, composition)
    assert post.id is not None
    assert client.get(f"/api/v1/media/{first}", headers=headers).status_code == 404  # the post's now


def test_a_form_body_and_an_aspect_stand_for_sizes(client: TestClient, headers: Headers) -> None:
    response = client.post(PATH, headers=headers, data={"prompt": "dunes", "seed": "7", "aspect": "3:2"})
    assert response.status_code == 202, response.text
    request = client.get(f"{PATH}/{response.json()['id']}", headers=headers).json()["request"]
    assert (request["width"], request["height"], request["seed"]) == (1536, 1024, 7)
    square = create(client, headers, aspect="square", width=None, height=None)
    assert (square["request"]["width"], square["request"]["height"]) == (1024, 1024)


def test_an_aspect_no_offered_size_has_gets_one_of_the_default_area() -> None:
    capabilities = Capabilities(sizes=((1024, 1024), (1024, 1536)), max_side=2048, max_pixels=2048 * 2048)
    assert size_for_aspect(16 / 9, capabilities) == (1360, 768)
    assert size_for_aspect(2 / 3, capabilities) == (1024, 1536)
    fixed = Capabilities(
        sizes=((1024, 1024), (1792, 1024)), max_side=1792, max_pixels=1792 * 1024, arbitrary_sizes=False
    )
    assert size_for_aspect(16 / 9, fixed) == (1792, 1024)
    assert size_for_aspect(1 / 4, fixed) == (1024, 1024)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"prompt": ""}, "prompt is empty"),
        ({"prompt": "x" * 2001}, "2000 characters"),
        ({"width": "big"}, "width must be a whole number"),
        ({"width": 10_000}, "between 64 and 2048"),
        ({"seed": -1}, "seed must be"),
        ({"seed": 2**70}, "seed must be"),
        ({"seed": True}, "seed must be a whole number"),
        ({"variants": 99}, "1 to 4 images"),
        ({"style": "cubist"}, "Unknown style"),
        ({"prompt": ["a"]}, "prompt must be text"),
        ({"steps": 20}, "no step setting"),
        ({"hide_prompt": True}, "chosen when posting"),
        ({"aspect": "0:1", "width": None, "height": None}, "aspect must be"),
        ({"aspect": "banana", "width": None, "height": None}, "aspect must be"),
        ({"aspect": "16:9"}, "either width and height or aspect"),
        ({"remix_of": "javascript:alert(1)"}, "remix_of"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(
    client: TestClient, headers: Headers, body: dict[str, Any], words: str
) -> None:
    sent = {key: value for key, value in {"prompt": "a lake", **SMALL, **body}.items() if value is not None}
    response = client.post(PATH, headers=headers, json=sent)
    assert response.status_code == 422, response.text
    assert words in response.json()["error"]


def test_bodies_that_are_not_parameters_are_refused(client: TestClient, headers: Headers) -> None:
    as_list = client.post(PATH, headers={**headers, "Content-Type": "application/json"}, content=b"[1, 2]")
    assert as_list.status_code == 400 and "JSON object" in as_list.json()["error"]
    as_text = client.post(PATH, headers={**headers, "Content-Type": "text/plain"}, content=b"a lake")
    assert as_text.status_code == 415
    huge = client.post(PATH, headers=headers, json={"prompt": "x" * 300_000})
    assert huge.status_code == 413


def test_progress_streams_as_server_sent_events(client: TestClient, headers: Headers) -> None:
    job = create(client, headers)
    drain(client)
    events = events_of(client, headers, job["id"])
    names = [name for _, name, _ in events]
    assert names[0] == "queued" and names[1] == "started" and names[-1] == "completed"
    assert "progress" in names
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))
    # A reconnecting client resumes after its last event
    resumed = events_of(client, headers, job["id"], last_event_id=events[-2][0])
    assert [name for _, name, _ in resumed] == ["completed"]


def test_a_queued_job_can_be_cancelled_a_finished_one_not(client: TestClient, headers: Headers) -> None:
    job = create(client, headers)
    cancelled = client.post(f"{PATH}/{job['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert client.post(f"{PATH}/{job['id']}/cancel", headers=headers).json()["state"] == "cancelled"
    drain(client)
    assert client.get(f"{PATH}/{job['id']}", headers=headers).json()["media_ids"] == []
    assert [name for _, name, _ in events_of(client, headers, job["id"])] == ["queued", "cancelled"]
    finished = create(client, headers)
    drain(client)
    refused = client.post(f"{PATH}/{finished['id']}/cancel", headers=headers)
    assert refused.status_code == 409 and "already finished" in refused.json()["error"]


def test_jobs_are_their_owners(
    client: TestClient, headers: Headers, make_user: Callable[..., Account], token_for: TokenFor
) -> None:
    job = create(client, headers)
    drain(client)
    media_id = client.get(f"{PATH}/{job['id']}", headers=headers).json()["media_ids"][0]
    ben = token_for(make_user("ben"), "read write:media")
    for response in (
        client.get(f"{PATH}/{job['id']}", headers=ben),
        client.get(f"{PATH}/{job['id']}/events", headers=ben),
        client.post(f"{PATH}/{job['id']}/cancel", headers=ben),
        client.get(f"/api/v1/media/{media_id}", headers=ben),
        client.get(f"{PATH}/999999", headers=headers),
        client.get(f"{PATH}/nope", headers=headers),
    ):
        assert response.status_code == 404 and "error" in response.json()


def test_scopes(client: TestClient, ana: Account, token_for: TokenFor) -> None:
    job = create(client, token_for(ana, "write:media"))  # a painting script needs only write:media
    assert client.get(f"{PATH}/{job['id']}", headers=token_for(ana, "write:media")).status_code == 200
    reader = token_for(ana, "read")
    assert client.get(f"{PATH}/{job['id']}", headers=reader).status_code == 200
    assert client.get("/api/v1/reverie/generator", headers=reader).status_code == 200
    refused = client.post(PATH, headers=reader, json={"prompt": "a lake", **SMALL})
    assert refused.status_code == 403 and "write:media" in refused.json()["error"]
    assert client.post(f"{PATH}/{job['id']}/cancel", headers=reader).status_code == 403
    follow_only = token_for(ana, "follow")
    assert client.get(f"{PATH}/{job['id']}", headers=follow_only).status_code == 403
    assert client.get("/api/v1/reverie/generator").status_code == 401
    assert client.post(PATH, json={"prompt": "a lake"}).status_code == 401
    assert client.get(f"{PATH}/{job['id']}", headers=token_for(None, "read write")).status_code == 401

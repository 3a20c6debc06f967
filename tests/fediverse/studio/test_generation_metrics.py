"""Generation jobs in ``/metrics``: finished jobs by state with their duration, and the queue read at
scrape time (issue 14, Operations)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from tests.fediverse.studio.conftest import SMALL, create_user, drain, sign_in
from tests.fediverse.web.test_operations import TOKEN, scrape, value


def test_generation_jobs_are_counted_with_their_duration(client_with: Callable[..., TestClient]) -> None:
    client = client_with(REVERIE_METRICS_TOKEN=TOKEN)
    ana = sign_in(client, create_user(client, "ana"))
    before = scrape(client)
    created = ana.post("/api/generations", json={"prompt": "a calm lake at dawn", **SMALL})
    assert created.status_code == 202
    waiting = scrape(client)
    assert value(waiting, "reverie_queue_waiting", queue="generation") == 1
    assert value(waiting, "reverie_queue_due", queue="generation") == 1
    drain(client)
    assert ana.get(f"/api/generations/{created.json()['id']}").json()["state"] == "succeeded"
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("reverie_generation_jobs_finished_total", state="succeeded") == 1
    assert moved("reverie_generation_jobs_finished_total", state="failed") == 0
    assert moved("reverie_generation_job_duration_seconds_count", state="succeeded") == 1
    assert moved("reverie_generation_job_duration_seconds_sum", state="succeeded") > 0
    assert value(after, "reverie_queue_waiting", queue="generation") == 0

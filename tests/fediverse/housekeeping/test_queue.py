"""The worker sweeps when it starts and then once per interval, and is idle in between."""

from __future__ import annotations

from datetime import timedelta

from starlette.testclient import TestClient

from fediverse.housekeeping.housekeeping_queue import HousekeepingQueue
from fediverse.worker.queues import open_worker
from tests.conftest import run_in_app, services_of
from tests.fediverse.housekeeping.helpers import age_draft, age_file
from tests.fediverse.studio.conftest import Browser
from tests.fediverse.studio.test_media_api import path_of, upload
from tests.fediverse.test_imaging import encode, gradient


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def expired_draft(client: TestClient, browser: Browser, width: int) -> str:
    draft = upload(browser, encode(gradient(width, 40), "PNG")).json()
    age_draft(client, draft["id"], timedelta(days=2))
    return path_of(draft["url"])


def test_a_sweep_runs_at_start_then_once_per_interval(client: TestClient, ana: Browser) -> None:
    clock = Clock()
    queue = HousekeepingQueue(services_of(client), interval_seconds=600, clock=clock)
    first = expired_draft(client, ana, 60)
    # The first pass sweeps
    assert run_in_app(client, queue.run_once) >= 1
    assert ana.get(first).status_code == 404
    # Until the interval has passed, passes do nothing
    second = expired_draft(client, ana, 70)
    clock.now += 599
    assert run_in_app(client, queue.run_once) == 0
    assert ana.get(second).status_code == 200
    # Then the next pass sweeps again
    clock.now += 1
    assert run_in_app(client, queue.run_once) >= 1
    assert ana.get(second).status_code == 404


def test_the_media_folder_is_walked_for_orphans_less_often(client: TestClient) -> None:
    services = services_of(client)
    clock = Clock()
    queue = HousekeepingQueue(services, interval_seconds=600, scan_interval_seconds=3600, clock=clock)
    assert run_in_app(client, queue.run_once) == 0  # the first sweep walks the folder: nothing there yet
    # Given a file a crash left, past its grace period
    orphan = run_in_app(client, services.media.put, encode(gradient(20, 20), "PNG"), "image/png")
    age_file(client, orphan, timedelta(days=1))
    # Then a regular sweep leaves it, and the next walk of the folder removes it
    clock.now += 600
    assert run_in_app(client, queue.run_once) == 0
    assert client.get(f"/media/{orphan}").status_code == 200
    clock.now += 3000
    assert run_in_app(client, queue.run_once) == 1
    assert client.get(f"/media/{orphan}").status_code == 404


def test_every_worker_runs_housekeeping(client: TestClient) -> None:
    async def queue_names() -> list[str]:
        async with open_worker(services_of(client)) as worker:
            return [queue.name for queue in worker.queues]

    assert "housekeeping" in run_in_app(client, queue_names)

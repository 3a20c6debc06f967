"""Scale-out: several web processes and several separate workers share one database and one media folder.
Concurrent workers never send the same delivery twice and never skip one."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.faults.test_crash_during_fanout import publish_caption, wait_for
from tests.processes import free_port, reverie_server
from tests.seeding import create_user_with_followers, delivery_states
from tests.sink import running_sink

pytestmark = pytest.mark.slow

HOSTS = 300
POSTS = 5  # 1,500 deliveries: several batches, so the workers compete for them
WORKERS = 3


def test_web_processes_and_separate_workers_deliver_everything_exactly_once(tmp_path: Path, database_url: str) -> None:
    with running_sink(HOSTS) as sink:
        sink.delay_for = lambda port: (port % 10) * 0.01
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        create_user_with_followers(database_url, base_url, "ana", [sink.inbox_url(p) for p in sink.ports])
        env = {
            "REVERIE_BASE_URL": base_url,
            "REVERIE_DATA_DIR": str(tmp_path / "data"),
            "REVERIE_DATABASE_URL": database_url,
            "REVERIE_ALLOW_PRIVATE_ADDRESSES": "true",
        }
        with ExitStack() as stack:
            # Given two web processes without a worker, and three worker processes beside them
            stack.enter_context(
                reverie_server(
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    "2",
                    "--no-worker",
                    env=env,
                    port=port,
                    log=tmp_path / "web.log",
                )
            )
            for index in range(WORKERS):
                stack.enter_context(
                    reverie_server("worker", env=env, port=port, log=tmp_path / f"worker{index}.log", wait_path=None)
                )
            # When posts fan out to many hosts
            note_ids = [publish_caption(env, "ana", f"hello number {index}") for index in range(POSTS)]
            wait_for(
                lambda: delivery_states(database_url).get("done") == HOSTS * POSTS, timeout=180, what="all deliveries"
            )
            # Then both web processes keep serving
            for _ in range(10):
                assert (
                    httpx.get(f"{base_url}/users/ana", headers={"Accept": "application/activity+json"}).status_code
                    == 200
                )
        # …and every inbox got every activity exactly once
        for note_id in note_ids:
            arrivals = sink.arrivals(f"{note_id}/activity")
            assert set(arrivals) == set(sink.ports)
            assert set(arrivals.values()) == {1}
        worker_logs = [(tmp_path / f"worker{index}.log").read_text() for index in range(WORKERS)]
        busy_workers = sum("delivered a batch" in log for log in worker_logs)
        print(f"\n{HOSTS * POSTS} deliveries by {WORKERS} workers ({busy_workers} took batches), none twice")

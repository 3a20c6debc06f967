"""Scale-out: several web processes and several separate workers share one database and one media folder.
Concurrent workers never send the same delivery twice and never skip one."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.faults.harness import prepare_fanout, wait_for
from tests.processes import reverie_server
from tests.seeding import delivery_states
from tests.sink import running_sink

pytestmark = pytest.mark.slow

HOSTS = 300
POSTS = 5  # 1,500 deliveries: several batches, so the workers compete for them
WORKERS = 3


def test_web_processes_and_separate_workers_deliver_everything_exactly_once(tmp_path: Path, database_url: str) -> None:
    with running_sink(HOSTS) as sink:
        sink.delay_for = lambda port: (port % 10) * 0.01
        instance = prepare_fanout(tmp_path, database_url, sink)
        env, port, base_url = instance.env, instance.port, instance.base_url
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
            note_ids = [instance.publish(f"hello number {index}") for index in range(POSTS)]
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
        busy_workers = sum("deliveries: " in log for log in worker_logs)
        print(f"\n{HOSTS * POSTS} deliveries by {WORKERS} workers ({busy_workers} took batches), none twice")

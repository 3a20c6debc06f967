"""SIGKILL in the middle of a fan-out: after a restart every inbox has the activity, and only deliveries
that were in flight at the moment of the kill may arrive twice (peers dedupe by activity id)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.processes import free_port, reverie_env, reverie_server
from tests.seeding import create_user_with_followers, delivery_states
from tests.sink import running_sink

pytestmark = pytest.mark.slow

FOLLOWER_HOSTS = 120

PUBLISH = """
import asyncio, sys
from fediverse import actions
from fediverse.config import load_settings
from fediverse.services import open_services
from fediverse.social.posts import PostDraft

async def main():
    async with open_services(load_settings()) as services:
        post = await actions.publish(services, sys.argv[1], PostDraft(caption=sys.argv[2]))
        print(post.ap_id)

asyncio.run(main())
"""


def publish_caption(env: dict[str, str], username: str, caption: str) -> str:
    """Publish from a separate process, as a second web process or the CLI would."""
    result = subprocess.run(
        [sys.executable, "-c", PUBLISH, username, caption],
        env=reverie_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_sigkill_mid_fanout_loses_nothing(tmp_path: Path, database_url: str) -> None:
    # Given an author whose followers live on many hosts, some of which answer slowly
    with running_sink(FOLLOWER_HOSTS) as sink:
        sink.delay_for = lambda port: (port % 40) * 0.075  # arrivals spread over three seconds
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        create_user_with_followers(database_url, base_url, "ana", [sink.inbox_url(p) for p in sink.ports])
        env = {
            "REVERIE_BASE_URL": base_url,
            "REVERIE_DATA_DIR": str(tmp_path / "data"),
            "REVERIE_DATABASE_URL": database_url,
            "REVERIE_ALLOW_PRIVATE_ADDRESSES": "true",
            "REVERIE_DELIVERY_LOCK_SECONDS": "3",
        }
        serve = ("serve", "--port", str(port))
        with reverie_server(*serve, env=env, port=port, log=tmp_path / "first.log") as server:
            # When she posts and the server is killed while the fan-out is under way
            note_id = publish_caption(env, "ana", "a post that must reach everyone")
            activity_id = f"{note_id}/activity"
            wait_for(lambda: len(sink.arrivals(activity_id)) >= FOLLOWER_HOSTS // 4, timeout=60, what="a quarter")
            server.process.kill()
            server.process.wait()
        arrived_before_kill = len(sink.arrivals(activity_id))
        in_flight = delivery_states(database_url)["claimed"]
        assert arrived_before_kill < FOLLOWER_HOSTS, "the kill came too late to test anything"
        # Then, once it runs again, every delivery completes and every inbox has the activity
        with reverie_server(*serve, env=env, port=port, log=tmp_path / "second.log"):
            wait_for(
                lambda: delivery_states(database_url).get("done") == FOLLOWER_HOSTS, timeout=90, what="all deliveries"
            )
        arrivals = sink.arrivals(activity_id)
        duplicates = sum(count - 1 for count in arrivals.values())
        assert set(arrivals) == set(sink.ports)
        # …and only deliveries that were in flight at the kill arrived twice
        assert duplicates <= in_flight
        print(
            f"\nfan-out to {FOLLOWER_HOSTS} hosts, SIGKILL after {arrived_before_kill} arrivals: "
            f"{in_flight} deliveries in flight at the kill, {duplicates} delivered twice"
        )

"""SIGKILL in the middle of a fan-out: after a restart every inbox has the activity, and only deliveries
that were in flight at the moment of the kill may arrive twice (peers dedupe by activity id)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.harness import prepare_fanout, wait_for
from tests.processes import reverie_server
from tests.seeding import delivery_states
from tests.sink import running_sink

pytestmark = pytest.mark.slow

FOLLOWER_HOSTS = 120


def test_sigkill_mid_fanout_loses_nothing(tmp_path: Path, database_url: str) -> None:
    # Given an author whose followers live on many hosts, some of which answer slowly
    with running_sink(FOLLOWER_HOSTS) as sink:
        sink.delay_for = lambda port: (port % 40) * 0.075  # arrivals spread over three seconds
        instance = prepare_fanout(tmp_path, database_url, sink, REVERIE_DELIVERY_LOCK_SECONDS="3")
        env, port = instance.env, instance.port
        serve = ("serve", "--port", str(port))
        with reverie_server(*serve, env=env, port=port, log=tmp_path / "first.log") as server:
            # When she posts and the server is killed while the fan-out is under way
            note_id = instance.publish("a post that must reach everyone")
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

"""The database busy or briefly unavailable: requests fail cleanly (503, retry soon) or wait, nothing is
half-written, and the server carries on once the database is back."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from fediverse.core.accounts import create_account
from fediverse.core.config import Settings
from fediverse.web.app import create_app
from storage.models import InboxItem
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.faults.harness import prepare_fanout, wait_for
from tests.peers import FakePeer, running_peer
from tests.processes import free_port, reverie_server, wait_until_up
from tests.seeding import delivery_states
from tests.sink import running_sink

pytestmark = pytest.mark.slow


def _like(peer: FakePeer, number: int) -> dict[str, object]:
    return {
        "id": f"{peer.base_url}/likes/{number}",
        "type": "Like",
        "actor": f"{peer.base_url}/users/ben",
        "object": f"{TEST_BASE_URL}/users/ana/statuses/1",
    }


def _post_signed(client: TestClient, peer: FakePeer, activity: dict[str, object]) -> httpx.Response:
    body = json.dumps(activity).encode()
    return client.post(
        "/inbox", content=body, headers=peer.signed_headers(peer.actors["ben"], TEST_BASE_URL + "/inbox", body)
    )


def _stored_items(client: TestClient) -> int:
    async def count() -> int:
        async with services_of(client).db.session() as session:
            return await session.scalar(select(func.count()).select_from(InboxItem)) or 0

    return run_in_app(client, count)


def test_a_held_sqlite_write_lock_gives_a_clean_503_and_loses_nothing(
    make_settings: Callable[..., Settings], sqlite_databases: object
) -> None:
    database_url = sqlite_databases.create()  # type: ignore[attr-defined]
    settings = make_settings(database_url, REVERIE_ALLOW_PRIVATE_ADDRESSES="true", REVERIE_SQLITE_BUSY_TIMEOUT_MS="300")
    with running_peer() as peer, TestClient(create_app(settings), base_url=TEST_BASE_URL) as client:
        peer.add_actor("ben")
        services = services_of(client)
        run_in_app(client, create_account, services.db, services.urls, "ana")
        # Given a warm key cache (a first activity from the peer went through)
        assert _post_signed(client, peer, _like(peer, 1)).status_code == 202
        # When another process holds the write lock longer than the busy timeout
        blocker = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        blocker.execute("BEGIN IMMEDIATE")
        try:
            refused = _post_signed(client, peer, _like(peer, 2))
            # Then the sender is told to retry, reads still work, and nothing was half-stored
            assert refused.status_code == 503
            assert refused.headers["retry-after"]
            assert "busy" in refused.json()["error"]
            assert client.get("/users/ana", headers={"Accept": "application/activity+json"}).status_code == 200
        finally:
            blocker.rollback()
            blocker.close()
        assert _stored_items(client) == 1
        # And once the lock is gone the retried activity is stored (once)
        assert _post_signed(client, peer, _like(peer, 2)).status_code == 202
        assert _post_signed(client, peer, _like(peer, 2)).status_code == 202
        assert _stored_items(client) == 2


@pytest.fixture
def throwaway_postgres() -> Iterator[tuple[str, Callable[[str], None]]]:
    """A PostgreSQL cluster of this test's own on a free loopback port, so it can be stopped and restarted
    without disturbing anything else. Needs Debian's postgresql and root (to run it as ``postgres``)."""
    bin_dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if os.geteuid() != 0 or not bin_dirs or shutil.which("runuser") is None:
        pytest.skip("needs root and Debian's postgresql to run a throwaway cluster")
    binaries = bin_dirs[-1]
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="reverie-pg-"))
    folder.chmod(0o755)
    data = folder / "pgdata"
    socket_dir = folder / "pgsocket"
    for owned in (data, socket_dir):
        owned.mkdir()
        shutil.chown(owned, "postgres", "postgres")
    port = free_port()

    def as_postgres(*command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=60)

    as_postgres(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    options = f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off"

    def control(action: str) -> None:
        as_postgres(
            str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-l", str(socket_dir / "pg.log"), action
        )

    control("start")
    as_postgres(str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "reverie")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/reverie", control
    finally:
        control("stop")
        shutil.rmtree(folder, ignore_errors=True)


def test_a_postgresql_restart_fails_requests_cleanly_and_the_worker_resumes(
    tmp_path: Path, throwaway_postgres: tuple[str, Callable[[str], None]]
) -> None:
    database_url, control = throwaway_postgres
    with running_sink(20) as sink:
        instance = prepare_fanout(tmp_path, database_url, sink)
        env, port, base_url = instance.env, instance.port, instance.base_url
        actor_url = f"{base_url}/users/ana"
        as2 = {"Accept": "application/activity+json"}
        with reverie_server("serve", "--port", str(port), env=env, port=port, log=tmp_path / "serve.log") as server:
            assert httpx.get(actor_url, headers=as2).status_code == 200
            # When the database goes away, requests get a clean 503 instead of hanging or a stack trace (asked of
            # the followers collection: an actor document may still be answered for a second or so from the
            # process's cache, decision 0051)
            control("stop")
            down = httpx.get(f"{actor_url}/followers", headers=as2, timeout=30)
            assert down.status_code == 503
            assert "Traceback" not in down.text
            # …and when it is back, the same server answers again and its worker delivers new work
            control("start")
            wait_for(lambda: httpx.get(actor_url, headers=as2).status_code == 200, timeout=30, what="recovery")
            note_id = instance.publish("posted after the database came back")
            wait_for(lambda: delivery_states(database_url).get("done") == 20, timeout=60, what="deliveries")
            assert server.process.poll() is None
        assert len(sink.arrivals(f"{note_id}/activity")) == 20


def test_healthz_says_the_database_is_away_while_postgresql_is_down(
    tmp_path: Path, throwaway_postgres: tuple[str, Callable[[str], None]]
) -> None:
    database_url, control = throwaway_postgres
    port = free_port()
    env = {"REVERIE_DATA_DIR": str(tmp_path / "data"), "REVERIE_DATABASE_URL": database_url}
    log = tmp_path / "serve.log"
    with reverie_server("serve", "--port", str(port), env=env, port=port, log=log, wait_path=None) as server:
        healthz = f"{server.base_url}/healthz"
        wait_until_up(healthz, server.process, log, timeout=90)
        assert httpx.get(healthz).status_code == 200
        # When the database goes away, a load balancer asking /healthz hears 503 and which check failed
        control("stop")
        down = httpx.get(healthz, timeout=30)
        assert down.status_code == 503
        assert down.json()["failed"] == ["database", "migrations"]
        assert "unreachable" in down.json()["checks"]["database"]["detail"] or "no answer" in down.text
        assert "postgres@" not in down.text and "Traceback" not in down.text
        # …and 200 again once it is back, from the same process
        control("start")
        wait_for(lambda: httpx.get(healthz).status_code == 200, timeout=30, what="healthy again")
        assert server.process.poll() is None

"""A server starts without the heavy libraries: they load where they are used (docs/decisions/0053).

Idle memory is measured in ``bench/bench_idle.py``; these tests hold the behaviour behind it: the app,
its lifespan and its worker come up, and answer pages, without importing image, generation, provenance,
HTML-cleaning, delivery-client or migration libraries; and ``reverie serve`` migrates a fresh database
from a child process, reporting a migration that fails.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from storage.db import Database, head_revision
from tests.conftest import TEST_BASE_URL
from tests.processes import ROOT, free_port, reverie_env, reverie_server, run_reverie

#: Libraries an idle server has no use for: images and painting (numpy, Pillow), model backends,
#: C2PA, remote-HTML cleaning (nh3), the delivery client (aiohttp), JSON-LD (pyld, for Linked Data
#: signatures), migrations (Alembic), and httpx's command-line client (rich, pygments).
HEAVY = (
    "numpy", "PIL", "torch", "diffusers", "transformers", "c2pa", "nh3", "aiohttp", "pyld", "alembic", "rich",
    "pygments", "websockets", "xml.etree.ElementTree",
)  # fmt: skip
#: PostgreSQL's driver and SQLAlchemy dialect: loaded only by a process whose database is PostgreSQL.
POSTGRESQL_ONLY = ("asyncpg", "sqlalchemy.dialects.postgresql")

PROBE = """
import json, sys
from starlette.testclient import TestClient
from fediverse.core.config import load_settings
from fediverse.federation.transports import client_tls
from fediverse.web.app import create_app

with TestClient(create_app(load_settings()), base_url=sys.argv[1]) as client:
    as2 = {"Accept": "application/activity+json"}
    statuses = [client.get(path).status_code for path in ("/", "/robots.txt", "/.well-known/nodeinfo")]
    statuses.append(client.get("/actor", headers=as2).status_code)
    client.app_state["services"].studio.generator  # built, as `reverie serve` builds it when it starts
loaded = [name for name in sys.argv[2:] if name in sys.modules]
print(json.dumps({"statuses": statuses, "loaded": loaded, "trusted": client_tls().cert_store_stats()["x509"]}))
"""


def test_the_app_serves_pages_without_loading_the_heavy_libraries(tmp_path: Path, database_url: str) -> None:
    environment = reverie_env(
        {
            "REVERIE_BASE_URL": TEST_BASE_URL,
            "REVERIE_DATA_DIR": str(tmp_path / "data"),
            "REVERIE_DATABASE_URL": database_url,
            "REVERIE_RUN_WORKER": "true",
        }
    )
    unused = HEAVY + (POSTGRESQL_ONLY if database_url.startswith("sqlite") else ())
    result = subprocess.run(
        [sys.executable, "-c", PROBE, TEST_BASE_URL, *unused],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["statuses"] == [200, 200, 200, 200]
    assert report["loaded"] == []
    assert report["trusted"] == 0  # the CA bundle loads on the first TLS connection


def test_the_websocket_protocol_loads_when_the_first_websocket_connects() -> None:
    """``reverie serve`` gives uvicorn a factory for its WebSocket protocol: nothing of `websockets` is
    imported while the server starts, and the factory makes uvicorn's sans-I/O protocol when called."""
    probe = """
import sys
import uvicorn
from uvicorn.server import ServerState
from fediverse.web.websocket_protocol import websocket_protocol

async def app(scope, receive, send): ...

config = uvicorn.Config(app, ws=websocket_protocol, lifespan="off")
config.load()
before = "websockets" in sys.modules
protocol = websocket_protocol(config=config, server_state=ServerState(), app_state={})
print(before, type(protocol).__name__, "websockets" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], env=reverie_env({}), cwd=ROOT, capture_output=True, text=True, timeout=110
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "WebSocketsSansIOProtocol", "True"]


def test_the_libraries_load_when_used() -> None:
    """The other half: the lazy paths really import what they need (a fresh process paints, cleans HTML)."""
    probe = """
import sys
from fediverse.generation import GenerationRequest
from fediverse.generation.procedural import ProceduralGenerator
from fediverse.federation.sanitize import sanitize_html
image = ProceduralGenerator().generate_sync(GenerationRequest(prompt="calm lake", width=64, height=64, seed=1))[0]
assert image.mime in ("image/png", "image/jpeg") and image.data
assert sanitize_html("<p onclick='x'>hi</p>") == "<p>hi</p>"
print(" ".join(name for name in ("numpy", "PIL", "nh3") if name in sys.modules))
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], env=reverie_env({}), cwd=ROOT, capture_output=True, text=True, timeout=110
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["numpy", "PIL", "nh3"]


def test_serve_migrates_a_fresh_database_before_it_answers(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "fresh"
    env = {"REVERIE_DATA_DIR": str(data)}
    with reverie_server("serve", "--port", str(port), env=env, port=port, log=tmp_path / "serve.log") as server:
        assert server.process.poll() is None

    async def revision() -> str | None:
        database = Database(f"sqlite:///{data / 'reverie.db'}")
        try:
            return await database.current_revision()
        finally:
            await database.dispose()

    assert asyncio.run(revision()) == head_revision() is not None


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_a_migration_that_cannot_reach_the_database_fails_with_its_reason(tmp_path: Path, command: str) -> None:
    port = free_port()  # nothing listens there
    env = {"REVERIE_DATA_DIR": str(tmp_path), "REVERIE_DATABASE_URL": f"postgresql://reverie:x@127.0.0.1:{port}/none"}
    arguments = ["--port", str(free_port())] if command == "serve" else []
    result = run_reverie(command, *arguments, env=env)
    assert result.returncode == 1
    assert "Connect call failed" in result.stderr or "refused" in result.stderr.lower()
    if command == "serve":
        assert "the database could not be migrated" in result.stderr

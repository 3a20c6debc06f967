"""Operations from a terminal and on real processes: ``reverie status``, ``reverie serve`` with several web
processes behind one ``/metrics``, and the request log (issue 14, Operations)."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from fediverse.reads.health import head_revision
from storage.db import Database
from storage.models import HostHealth
from storage.types import utcnow
from tests.processes import free_port, reverie_server, run_reverie, wait_until_up

TOKEN = "another-scrape-token"


def _run_sql(database_url: str, statement: str) -> None:
    async def run() -> None:
        database = Database(database_url)
        try:
            async with database.transaction() as session:
                await session.execute(text(statement))
        finally:
            await database.dispose()

    asyncio.run(run())


def _add_failing_host(database_url: str, host: str, failures: int) -> None:
    async def add() -> None:
        database = Database(database_url)
        try:
            async with database.transaction() as session:
                session.add(HostHealth(host=host, consecutive_failures=failures, first_failure_at=utcnow()))
        finally:
            await database.dispose()

    asyncio.run(add())


def test_status_prints_the_health_and_fails_when_a_migration_is_missing(tmp_path: Path, database_url: str) -> None:
    env = {"REVERIE_DATA_DIR": str(tmp_path / "data"), "REVERIE_DATABASE_URL": database_url}
    _add_failing_host(database_url, "down.example", 4)
    healthy = run_reverie("status", env=env)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "healthy" in healthy.stdout.splitlines()[0]
    for shown in ("Inbox", "Deliveries", "Thread fetches", "Generation", "oldest due", f"at {head_revision()}"):
        assert shown in healthy.stdout
    assert "failing hosts: 1" in healthy.stdout
    assert "down.example: 4 failures in a row" in healthy.stdout

    _run_sql(database_url, "UPDATE alembic_version SET version_num = '0005'")
    behind = run_reverie("status", env=env)
    assert behind.returncode == 1
    assert "FAILING" in behind.stdout and "run `reverie migrate`" in behind.stdout
    as_json = run_reverie("status", "--json", env=env)
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["failed"] == ["migrations"]


@pytest.mark.slow
def test_several_web_processes_share_one_metrics_view_and_log_json_lines(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    env = {"REVERIE_DATA_DIR": str(data), "REVERIE_METRICS_TOKEN": TOKEN, "REVERIE_LOG_FORMAT": "json"}
    args = ("serve", "--port", str(port), "--workers", "2")
    with reverie_server(*args, env=env, port=port, log=tmp_path / "serve.log", wait_path=None) as server:
        base = server.base_url
        wait_until_up(f"{base}/healthz", server.process, server.log, timeout=120)  # each process starts afresh
        asked = 30
        for _ in range(asked):  # a new connection each: the two processes take turns as the kernel decides
            assert httpx.get(f"{base}/robots.txt").status_code == 200
        scrapes = []
        for _ in range(6):
            response = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code == 200
            counted = sum(
                sample.value
                for family in text_string_to_metric_families(response.text)
                for sample in family.samples
                if sample.name == "reverie_http_requests_total" and sample.labels["route"] == "/robots.txt"
            )
            scrapes.append(counted)
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
    # Whichever process answered the scrape, it counted every process's requests
    assert scrapes == [asked] * len(scrapes)
    folder = data / "metrics"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert len({path.stem.rsplit("_", 1)[-1] for path in folder.glob("*.db")}) == 2  # each process's own files
    # One JSON line per request, with the route template; uvicorn's own access line is not there too
    lines = [json.loads(line) for line in server.output.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["logger"] == "reverie.requests" and line["route"] == "/robots.txt"]
    assert len(requests) == asked
    assert {(line["method"], line["status"]) for line in requests} == {("GET", 200)}
    assert all(isinstance(line["ms"], float) for line in requests)
    assert '"GET /robots.txt HTTP/1.1"' not in server.output

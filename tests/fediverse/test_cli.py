"""The ``reverie`` command, run as a real process."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import httpx

from tests.processes import free_port, reverie_server, run_reverie


def test_help_reads_well() -> None:
    result = run_reverie("--help", env={})
    assert result.returncode == 0
    for command in ("serve", "worker", "migrate", "user", "housekeeping"):
        assert command in result.stdout
    assert "REVERIE_BASE_URL" in result.stdout
    assert run_reverie("user", "create", "--help", env={}).returncode == 0


def test_user_create_then_list(tmp_path: Path, database_url: str) -> None:
    env = {"REVERIE_DATA_DIR": str(tmp_path), "REVERIE_DATABASE_URL": database_url}
    created = run_reverie("user", "create", "ana", "--admin", "--password-stdin", env=env, stdin="correct horse\n")
    assert created.returncode == 0, created.stderr
    assert "@ana@127.0.0.1:8000" in created.stdout
    listed = run_reverie("user", "list", env=env)
    assert listed.stdout.split() == ["ana", "(admin)"]
    again = run_reverie("user", "create", "ana", "--no-password", env=env)
    assert again.returncode == 1
    assert "taken" in again.stderr


def test_user_create_refuses_bad_names_and_short_passwords(tmp_path: Path) -> None:
    env = {"REVERIE_DATA_DIR": str(tmp_path)}
    bad_name = run_reverie("user", "create", "Ana!", "--no-password", env=env)
    assert bad_name.returncode == 1
    assert "lowercase" in bad_name.stderr
    short = run_reverie("user", "create", "ana", "--password-stdin", env=env, stdin="short\n")
    assert short.returncode == 1
    assert "at least 8" in short.stderr


def test_a_configuration_error_names_the_variable() -> None:
    result = run_reverie("migrate", env={"REVERIE_BASE_URL": "http://public.example"})
    assert result.returncode == 2
    assert "REVERIE_BASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_migrates_and_answers_webfinger(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    env = {"REVERIE_DATA_DIR": str(tmp_path / "data"), "REVERIE_DATABASE_URL": database_url}
    assert run_reverie("user", "create", "ana", "--no-password", env=env).returncode == 0
    with reverie_server("serve", "--port", str(port), env=env, port=port, log=tmp_path / "serve.log") as server:
        base = server.base_url
        finger = httpx.get(f"{base}/.well-known/webfinger", params={"resource": f"acct:ana@127.0.0.1:{port}"})
        assert finger.status_code == 200
        assert finger.json()["links"][1]["href"] == f"{base}/users/ana"
        actor = httpx.get(f"{base}/users/ana", headers={"Accept": "application/activity+json"})
        assert actor.json()["inbox"] == f"{base}/users/ana/inbox"
    assert f"is starting at {base}" in server.output


def test_first_start_creates_the_data_folder_and_explains_the_next_step(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "fresh"
    env = {"REVERIE_DATA_DIR": str(data)}
    with reverie_server("serve", "--port", str(port), env=env, port=port, log=tmp_path / "serve.log") as server:
        assert (data / "reverie.db").is_file()
    assert "reverie user create NAME --admin" in server.output


def test_housekeeping_sweeps_once_and_says_what_it_removed(tmp_path: Path, database_url: str) -> None:
    # Given a media file that no post or draft uses, left a day ago (a crash before its row committed)
    env = {"REVERIE_DATA_DIR": str(tmp_path), "REVERIE_DATABASE_URL": database_url}
    assert run_reverie("migrate", env=env).returncode == 0
    digest = hashlib.sha256(b"orphan").hexdigest()
    orphan = tmp_path / "media" / digest[:2] / digest[2:4] / f"{digest}.png"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"orphan")
    os.utime(orphan, (orphan.stat().st_mtime - 86_400,) * 2)
    # When the operator runs housekeeping
    result = run_reverie("housekeeping", env=env)
    # Then the file is gone and the report says so
    assert result.returncode == 0, result.stderr
    assert "1 unused file(s)" in result.stdout and "0 expired draft image(s)" in result.stdout
    assert not orphan.exists()


def test_recount_finds_a_drifted_counter_and_sets_it_right(tmp_path: Path) -> None:
    env = {"REVERIE_DATA_DIR": str(tmp_path)}
    assert run_reverie("migrate", env=env).returncode == 0
    # Given an actor whose stored follower count was written behind the database's back (it has none)
    with sqlite3.connect(tmp_path / "reverie.db") as connection:
        connection.execute(
            "INSERT INTO actors (ap_id, type, username, domain, is_local, display_name, summary_html, inbox_url, "
            "manually_approves_followers, discoverable, indexable, created_at, updated_at, followers_count) "
            "VALUES ('https://a.example/u/zoe', 'Person', 'zoe', 'a.example', 0, '', '', 'https://a.example/i', "
            "0, 0, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00', 5)"
        )
    # When the operator recounts, it is listed; with --fix it is set to what the rows say
    found = run_reverie("recount", env=env)
    assert found.returncode == 1, found.stderr
    assert "followers_count: stored 5, counted 0" in found.stdout
    fixed = run_reverie("recount", "--fix", env=env)
    assert fixed.returncode == 0 and "1 counter(s) set right" in fixed.stdout
    with sqlite3.connect(tmp_path / "reverie.db") as connection:
        assert connection.execute("SELECT followers_count FROM actors WHERE username = 'zoe'").fetchone() == (0,)


def test_block_and_unblock_from_a_terminal(tmp_path: Path) -> None:
    env = {"REVERIE_DATA_DIR": str(tmp_path)}
    for name in ("ana", "ben"):
        assert run_reverie("user", "create", name, "--no-password", env=env).returncode == 0
    blocked = run_reverie("block", "ana", "ben", env=env)
    assert blocked.returncode == 0, blocked.stderr
    assert "@ana: block ben — done" in blocked.stdout
    # A blocked account cannot follow its blocker
    refused = run_reverie("follow", "ben", "ana", env=env)
    assert refused.returncode == 1 and "cannot follow" in refused.stderr
    assert run_reverie("unblock", "ana", "ben", env=env).returncode == 0
    assert run_reverie("follow", "ben", "ana", env=env).returncode == 0
    assert run_reverie("block", "ana", "ana", env=env).returncode == 1

"""Backups and restores as docs/deploy.md tells an admin to make them: ``reverie backup FILE`` for SQLite
(while something else is writing), ``pg_dump``/``pg_restore`` for PostgreSQL, and a restored copy that
``reverie migrate`` and the other commands take as the instance's database."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import stat
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

from storage.db import normalize_url
from tests.processes import run_reverie


def _sqlite_file(database_url: str) -> Path | None:
    url = normalize_url(database_url)
    return Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None


def _reverie(env: dict[str, str], *arguments: str) -> str:
    result = run_reverie(*arguments, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_backup_copies_the_sqlite_database_while_a_writer_holds_it(tmp_path: Path, database_url: str) -> None:
    source = _sqlite_file(database_url)
    env = {"REVERIE_DATA_DIR": str(tmp_path / "data"), "REVERIE_DATABASE_URL": database_url}
    if source is None:
        # On PostgreSQL the command says what to use instead, and writes nothing
        refused = run_reverie("backup", str(tmp_path / "copy.db"), env=env)
        assert refused.returncode == 1
        assert "pg_dump" in refused.stderr
        assert not (tmp_path / "copy.db").exists()
        return
    _reverie(env, "user", "create", "ana", "--no-password")
    # Given another process is in the middle of a write transaction (as a busy server would be)
    with sqlite3.connect(source, isolation_level=None) as writer:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE accounts SET username = 'uncommitted' WHERE username = 'ana'")
        # When the admin backs up
        copy = tmp_path / "backups" / "reverie.db"
        copy.parent.mkdir()
        printed = _reverie(env, "backup", str(copy))
        writer.execute("ROLLBACK")
    # Then the copy holds what was committed, and nothing that was not
    assert f"to {copy}" in printed
    with sqlite3.connect(copy) as reading:
        assert reading.execute("SELECT username FROM accounts").fetchall() == [("ana",)]
        assert reading.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    # …in one file, for this user alone
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert sorted(path.name for path in copy.parent.iterdir()) == ["reverie.db"]
    # A second backup never overwrites the first
    again = run_reverie("backup", str(copy), env=env)
    assert again.returncode == 1
    assert "already exists" in again.stderr

    # When the admin restores it: the server stopped, the copy put in place of the database
    restored = tmp_path / "restored" / "reverie.db"
    restored.parent.mkdir()
    shutil.copyfile(copy, restored)
    restored_env = {"REVERIE_DATA_DIR": str(tmp_path / "restored"), "REVERIE_DATABASE_URL": f"sqlite:///{restored}"}
    # Then Reverie takes it as its database
    assert "up to date" in _reverie(restored_env, "migrate")
    assert "ana" in _reverie(restored_env, "user", "list")


def test_a_pg_dump_restores_into_an_empty_database(tmp_path: Path, database_url: str) -> None:
    if _sqlite_file(database_url) is not None:
        pytest.skip("pg_dump and pg_restore are PostgreSQL's (SQLite: the test above)")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("PostgreSQL's client programs are not installed")
    env = {"REVERIE_DATA_DIR": str(tmp_path / "data"), "REVERIE_DATABASE_URL": database_url}
    _reverie(env, "user", "create", "ana", "--no-password")
    url = make_url(database_url).set(drivername="postgresql")
    dump = tmp_path / "reverie.dump"
    # docs/deploy.md's commands, as an admin types them
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={dump}", url.render_as_string(hide_password=False)],
        check=True,
        timeout=120,
    )
    target = url.set(database=f"reverie_restore_{uuid.uuid4().hex[:12]}")
    _admin(url, f'CREATE DATABASE "{target.database}"')
    try:
        subprocess.run(
            ["pg_restore", "--no-owner", f"--dbname={target.render_as_string(hide_password=False)}", str(dump)],
            check=True,
            timeout=120,
        )
        restored_env = {**env, "REVERIE_DATABASE_URL": target.render_as_string(hide_password=False)}
        assert "up to date" in _reverie(restored_env, "migrate")
        assert "ana" in _reverie(restored_env, "user", "list")
    finally:
        _admin(url, f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')


def _admin(url: URL, statement: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(url.set(database="postgres").render_as_string(hide_password=False))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())

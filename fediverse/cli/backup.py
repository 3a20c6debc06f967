"""``reverie backup FILE``: a consistent copy of the SQLite database, taken while Reverie runs.

SQLite's online backup (``sqlite3.Connection.backup``) copies every page inside one read transaction, so
the copy is the database as of one moment, whatever the web and worker processes write meanwhile (in WAL
mode readers do not block writers, nor writers readers). Copying the file with ``cp`` could catch a
half-written page, and misses what still sits in the ``-wal`` file. The copy is one self-contained file
(rollback journal, no ``-wal``), readable by this user alone, checked with ``PRAGMA quick_check``.
PostgreSQL has its own tool for this, ``pg_dump`` (docs/deploy.md).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from fediverse.core.config import Settings, load_settings
from fediverse.core.errors import ReverieError
from storage.db import normalize_url


def register(commands: Any) -> None:
    command = commands.add_parser(
        "backup",
        help="copy the SQLite database to FILE, consistently, while Reverie runs (PostgreSQL: pg_dump)",
        description=(
            "Copy the SQLite database to FILE with SQLite's online backup: a consistent copy, taken while "
            "the server and workers keep running. Back up the media folder (and c2pa/, if used) beside it. "
            "For PostgreSQL use pg_dump; docs/deploy.md has both, and how to restore."
        ),
    )
    command.add_argument("file", type=Path, help="where to write the copy (a new file)")
    command.set_defaults(handler=run_backup)


def sqlite_database(settings: Settings) -> Path:
    """The SQLite database file, or ``ReverieError`` when the database is not SQLite or not there."""
    url = normalize_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        raise ReverieError(
            "the database is PostgreSQL: back it up with pg_dump "
            "(pg_dump --format=custom --file=reverie.dump DBNAME; see docs/deploy.md)"
        )
    if not url.database:
        raise ReverieError("the database is in memory: there is nothing to back up")
    path = Path(url.database).resolve()
    if not path.is_file():
        raise ReverieError(f"there is no database at {path} (has Reverie been started with this configuration?)")
    return path


def backup_sqlite(source: Path, target: Path, *, busy_timeout_ms: int = 10_000) -> int:
    """Copy ``source`` to the new file ``target`` (0600) in one consistent step; returns its size."""
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as error:
        raise ReverieError(f"{target} already exists: choose a new file (a backup never overwrites)") from error
    except OSError as error:
        raise ReverieError(f"cannot create {target}: {error.strerror}") from error
    os.close(descriptor)
    try:
        with (
            closing(sqlite3.connect(source, timeout=busy_timeout_ms / 1000)) as reading,
            closing(sqlite3.connect(target)) as writing,
        ):
            reading.backup(writing)  # all pages in one step: one read transaction, one moment
            writing.execute("PRAGMA journal_mode=DELETE")  # one self-contained file; Reverie turns WAL back on
            (verdict,) = writing.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise ReverieError(f"the copy failed SQLite's check: {verdict}")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target.stat().st_size


def run_backup(arguments: argparse.Namespace) -> int:
    settings = load_settings()
    source = sqlite_database(settings)
    target: Path = arguments.file
    try:
        size = backup_sqlite(source, target, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    except sqlite3.Error as error:
        raise ReverieError(f"the backup failed: {error}") from error
    print(f"Backed up {source} to {target} ({size / 1_000_000:.1f} MB).")
    print(f"Also copy the media folder, {settings.media_dir}, and c2pa/ beside it if you sign images.")
    return 0

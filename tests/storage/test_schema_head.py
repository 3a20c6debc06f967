"""An up-to-date database is recognised without Alembic; one that is behind is migrated by it.

``storage.db.head_revision`` reads the newest revision from the migration files' text, so that a start on
a current database never loads Alembic (docs/decisions/0053). Alembic's own answer is the reference.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from storage.db import alembic_config, head_revision
from tests.processes import ROOT, reverie_env

PROBE = """
import asyncio, json, sys
from storage.db import Database

async def main():
    database = Database(sys.argv[1])
    try:
        await database.migrate()
        return await database.current_revision()
    finally:
        await database.dispose()

revision = asyncio.run(main())
print(json.dumps({"revision": revision, "alembic_loaded": "alembic" in sys.modules}))
"""


def migrate_in_a_fresh_process(url: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, url], env=reverie_env({}), cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_the_head_read_from_the_files_is_alembics_head() -> None:
    assert [head_revision()] == ScriptDirectory.from_config(alembic_config()).get_heads()


def test_a_current_database_is_left_alone_without_loading_alembic(database_url: str) -> None:
    report = migrate_in_a_fresh_process(database_url)  # the fixture's database is migrated already
    assert report == {"revision": head_revision(), "alembic_loaded": False}


def test_an_empty_database_is_migrated_by_alembic(tmp_path: Path) -> None:
    report = migrate_in_a_fresh_process(f"sqlite:///{tmp_path / 'empty.db'}")
    assert report == {"revision": head_revision(), "alembic_loaded": True}

"""Write a new Alembic revision by comparing storage.models with a freshly migrated SQLite database.

Usage (from the repository root): python scripts/new_migration.py "add widgets" 0002
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy.engine import Connection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.db import Database, alembic_config


async def write_revision(message: str, rev_id: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite:///{folder}/scratch.db")

        def upgrade_then_compare(connection: Connection) -> None:
            config = alembic_config(connection)
            command.upgrade(config, "head")
            command.revision(config, message=message, autogenerate=True, rev_id=rev_id)

        async with database.writer_engine.begin() as connection:
            await connection.run_sync(upgrade_then_compare)
        await database.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    asyncio.run(write_revision(sys.argv[1], sys.argv[2]))

"""What one primary-key read costs through each data-access path, measured in the same run.

    python bench/bench_queries.py [--queries 2000]

A scratch SQLite database with one account; the same read (an account's id by primary key) through:
bare ``sqlite3`` (the baseline), the ORM on an ``AsyncSession`` over aiosqlite (one thread hop per cursor
operation), the ORM inside one ``Database.read`` unit (a synchronous ``Session`` on a worker thread, the
statement built per query), the same with the statement built once, and that statement on the unit's
Core connection. Also what a unit with a single query costs end to end (the hop and the session).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import ROOT  # noqa: F401 - puts this checkout first on sys.path
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlmodel import col

from storage.db import Database
from storage.models import Account, Actor


def _per_query(queries: int, run: Callable[[int], object]) -> float:
    started = time.perf_counter()
    for index in range(queries):
        run(index)
    return (time.perf_counter() - started) / queries * 1e6


async def measure(path: Path, queries: int) -> dict[str, float]:
    db = Database(f"sqlite:///{path}")
    await db.migrate()

    def seed(session: Session) -> int:
        actor = Actor(ap_id="https://example.test/users/a", username="a", domain="example.test", inbox_url="x")
        session.add(actor)
        session.flush()
        assert actor.id is not None
        account = Account(username="a", actor_id=actor.id)
        session.add(account)
        session.flush()
        assert account.id is not None
        return account.id

    account_id = await db.write(seed)
    prebuilt = select(col(Account.id)).where(col(Account.id) == bindparam("id"))
    results: dict[str, float] = {}

    bare = sqlite3.connect(path)
    results["bare sqlite3"] = _per_query(
        queries, lambda _: bare.execute("SELECT id FROM accounts WHERE id = ?", (account_id,)).fetchone()
    )
    bare.close()

    async with db.session() as session:
        started = time.perf_counter()
        for _ in range(queries):
            await session.scalar(select(Account.id).where(Account.id == account_id))
        results["ORM, AsyncSession (aiosqlite)"] = (time.perf_counter() - started) / queries * 1e6

    results["ORM in a unit, statement built per query"] = await db.read(
        lambda s: _per_query(queries, lambda _: s.scalar(select(col(Account.id)).where(col(Account.id) == account_id)))
    )
    results["ORM in a unit, statement built once"] = await db.read(
        lambda s: _per_query(queries, lambda _: s.scalar(prebuilt, {"id": account_id}))
    )
    results["Core in a unit, statement built once"] = await db.read(
        lambda s: _per_query(queries, lambda _: s.connection().execute(prebuilt, {"id": account_id}).scalar())
    )
    started = time.perf_counter()
    for _ in range(queries // 4):
        await db.read(lambda s: s.connection().execute(prebuilt, {"id": account_id}).scalar())
    results["a whole unit of one query (hop + session)"] = (time.perf_counter() - started) / (queries // 4) * 1e6
    await db.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=2000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reverie-bench-") as folder:
        results = asyncio.run(measure(Path(folder) / "queries.db", arguments.queries))
    baseline = results["bare sqlite3"]
    print(f"one primary-key read on SQLite, {arguments.queries} times each (µs per query, ratio to bare sqlite3):")
    for name, micros in results.items():
        print(f"  {name:<44} {micros:9.1f} µs  {micros / baseline:6.1f}x")


if __name__ == "__main__":
    main()

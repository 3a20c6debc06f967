"""Group commit: many concurrent callers each await their row, one writer task inserts them in batches.

Measured on this machine class (reference/performance.md §2): a transaction per request caps an inbox
at ~900/s through the ORM, while batching the same durable inserts reaches several thousand per second.
A caller's ``insert`` returns only after the batch holding its row has committed, so answering ``202``
afterwards is as durable as a transaction per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from storage.db import Database

log = logging.getLogger(__name__)

_Pending = tuple[dict[str, Any], "asyncio.Future[None]"]


class BatchInserter:
    """Insert rows into ``table`` in batches of up to ``max_batch``; rows that collide on
    ``conflict_columns`` are skipped (a replayed activity is a no-op)."""

    def __init__(self, db: Database, table: Table, *, conflict_columns: Sequence[str], max_batch: int = 500) -> None:
        self.db = db
        self.table = table
        self.max_batch = max_batch
        dialect_insert = sqlite.insert if db.is_sqlite else postgresql.insert
        self._statement = dialect_insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0

    async def __aenter__(self) -> BatchInserter:
        self._task = asyncio.create_task(self._run(), name=f"batch-insert:{self.table.name}")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(RuntimeError("the writer stopped before this row was stored"))

    async def insert(self, row: dict[str, Any]) -> None:
        """Store ``row``; returns once it is committed (or raises what the batch raised)."""
        if self._task is None or self._task.done():
            raise RuntimeError("BatchInserter is not running")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((row, future))
        await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write([row for row, _ in batch])
            except asyncio.CancelledError:
                _fail(batch, RuntimeError("the writer stopped before this row was stored"))
                raise
            except Exception as error:
                if len(batch) == 1:
                    _fail(batch, error)
                    continue
                # One bad row must not fail its neighbours: store the batch row by row.
                log.warning("batch insert into %s failed (%s); retrying rows one by one", self.table.name, error)
                for pending in batch:
                    try:
                        await self._write([pending[0]])
                    except Exception as row_error:
                        _fail([pending], row_error)
                    else:
                        _succeed([pending])
            else:
                _succeed(batch)

    async def _write(self, rows: list[dict[str, Any]]) -> None:
        async with self.db.writer_engine.begin() as connection:
            await connection.execute(self._statement, rows)
        self.batches += 1


def _succeed(batch: list[_Pending]) -> None:
    for _, future in batch:
        if not future.done():
            future.set_result(None)


def _fail(batch: list[_Pending], error: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)

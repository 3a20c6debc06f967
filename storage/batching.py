"""Group commit: many concurrent callers each await their row, one writer task inserts them in batches.

Measured on this machine class (decision 0001): a transaction per request caps an inbox
at ~900/s through the ORM, while batching the same durable inserts reaches several thousand per second.
A caller's ``insert`` returns only after the batch holding its row has committed, so answering ``202``
afterwards is as durable as a transaction per request.

A ``screen`` runs the checks that need the database once per batch, inside the batch's transaction, so
the rows it lets through are judged against the same state they are committed in (docs/benchmarks.md:
two per-request lookups cost more than the insert itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.dialects import insert_for

log = logging.getLogger(__name__)

_Pending = tuple[dict[str, Any], "asyncio.Future[None]"]

#: Judges a batch inside its transaction: for each row, ``None`` to insert it, or the exception its caller
#: gets instead (the row is then not stored).
Screen = Callable[[AsyncConnection, Sequence[dict[str, Any]]], Awaitable[Sequence[BaseException | None]]]


class BatchInserter:
    """Insert rows into ``table`` in batches of up to ``max_batch``; rows that collide on
    ``conflict_columns`` are skipped (a replayed activity is a no-op); ``screen`` may refuse rows."""

    def __init__(
        self,
        db: Database,
        table: Table,
        *,
        conflict_columns: Sequence[str],
        max_batch: int = 500,
        screen: Screen | None = None,
    ) -> None:
        self.db = db
        self.table = table
        self.max_batch = max_batch
        self.screen = screen
        dialect_insert = insert_for(db.dialect)
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
                verdicts = await self._write([row for row, _ in batch])
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
                        (verdict,) = await self._write([pending[0]])
                    except Exception as row_error:
                        _fail([pending], row_error)
                    else:
                        _settle([pending], [verdict])
            else:
                _settle(batch, verdicts)

    async def _write(self, rows: list[dict[str, Any]]) -> Sequence[BaseException | None]:
        async with self.db.write_connection(urgent=True) as connection:
            verdicts = await self.screen(connection, rows) if self.screen is not None else [None] * len(rows)
            accepted = [row for row, verdict in zip(rows, verdicts, strict=True) if verdict is None]
            if accepted:
                await connection.execute(self._statement, accepted)
        self.batches += 1
        return verdicts


def _settle(batch: list[_Pending], verdicts: Sequence[BaseException | None]) -> None:
    for (_, future), verdict in zip(batch, verdicts, strict=True):
        if future.done():
            continue
        if verdict is None:
            future.set_result(None)
        else:
            future.set_exception(verdict)


def _fail(batch: list[_Pending], error: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)

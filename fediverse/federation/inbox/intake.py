"""The inbox's way into the database, shaped by measurement (docs/benchmarks.md).

Verified activities are stored by one group-commit writer (``storage.batching``). The checks that need
the database (is the recipient still an active local account, is the sender's domain blocked) run once
per batch inside the writer's transaction instead of once per request: two per-request lookups through
the async ORM cost more than verifying the signature and storing the row together. Local account ids
are cached by name (names never move to another account), so a request for an unknown name is still
refused before its body is read; a disabled account is caught by the batch check and dropped from the
cache.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from fediverse.core.domain_blocks import blocked_hosts
from fediverse.core.errors import Forbidden, NotFound
from fediverse.core.metrics import INBOX_ACCEPTED
from fediverse.federation.actors_in import host_of
from storage.batching import BatchInserter
from storage.columns import table_of
from storage.db import Database
from storage.models import Account, InboxItem

#: Local accounts whose ids are kept in memory (a name costs a few dozen bytes).
MAX_CACHED_ACCOUNTS = 10_000
#: The inbox counts as busy while activities arrived within this many seconds.
QUIET_AFTER = 0.05
#: An in-process worker waits at most this long for a quiet moment before it applies its next item.
MAX_YIELD = 0.5


class InboxIntake:
    """Stores verified incoming activities as ``InboxItem`` rows (unique on the activity id)."""

    def __init__(self, db: Database, *, max_batch: int = 500, max_cached_accounts: int = MAX_CACHED_ACCOUNTS) -> None:
        self.db = db
        self.max_cached_accounts = max_cached_accounts
        self._account_ids: OrderedDict[str, int] = OrderedDict()
        self._last_arrival = float("-inf")
        self._writer = BatchInserter(
            db, table_of(InboxItem), conflict_columns=["activity_ap_id"], max_batch=max_batch, screen=self._screen
        )

    async def __aenter__(self) -> InboxIntake:
        await self._writer.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._writer.__aexit__(*exc)

    async def recipient_id(self, username: str) -> int | None:
        """The id of the active local account ``username``, or ``None``."""
        cached = self._account_ids.get(username)
        if cached is not None:
            self._account_ids.move_to_end(username)
            return cached
        async with self.db.engine.connect() as connection:
            found = await connection.scalar(
                select(col(Account.id)).where(col(Account.username) == username, col(Account.disabled_at).is_(None))
            )
        if found is not None:
            self._account_ids[username] = found
            while len(self._account_ids) > self.max_cached_accounts:
                self._account_ids.popitem(last=False)
        return found

    async def store(self, row: dict[str, Any]) -> None:
        """Store one ``InboxItem`` row; returns once it is committed. A replay is a no-op. Raises
        ``Forbidden`` when the sender's domain is blocked and ``NotFound`` when the recipient account
        was disabled, as judged in the transaction that would have stored it."""
        self._last_arrival = asyncio.get_running_loop().time()
        await self._writer.insert(row)
        INBOX_ACCEPTED.inc()

    async def wait_until_quiet(self, max_wait: float = MAX_YIELD) -> None:
        """Return once no activity arrived for ``QUIET_AFTER`` seconds, or after ``max_wait``.

        The in-process thread-fetch queue awaits this between items, so a burst is answered first. (The
        inbox worker no longer does: it shares the writer by turns instead, decision 0050.) The bound keeps
        the waiting worker moving under sustained load.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait
        while (now := loop.time()) < deadline and now - self._last_arrival < QUIET_AFTER:
            await asyncio.sleep(min(QUIET_AFTER, deadline - now))

    async def _screen(self, connection: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[BaseException | None]:
        blocked = await blocked_hosts(connection, {host_of(row["actor_ap_id"]) for row in rows})
        recipients = {row["recipient_account_id"] for row in rows} - {None}
        active = set(
            await connection.scalars(
                select(col(Account.id)).where(col(Account.id).in_(recipients), col(Account.disabled_at).is_(None))
            )
            if recipients
            else ()
        )
        if recipients - active:
            gone = recipients - active
            for name, account_id in list(self._account_ids.items()):
                if account_id in gone:
                    del self._account_ids[name]
        verdicts: list[BaseException | None] = []
        for row in rows:
            if host_of(row["actor_ap_id"]) in blocked:
                verdicts.append(Forbidden("This server does not accept activities from your domain."))
            elif row["recipient_account_id"] is not None and row["recipient_account_id"] not in active:
                verdicts.append(NotFound("No such account."))
            else:
                verdicts.append(None)
        return verdicts

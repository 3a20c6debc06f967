"""Setting up an instance's database from the test process (for tests that run ``reverie`` as a process)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import func, insert, select

from fediverse.core.accounts import create_account
from fediverse.core.urls import Urls
from storage.db import Database
from storage.models import Account, Actor, Delivery, Follow, FollowState
from storage.types import utcnow

T = TypeVar("T")


def on_database(database_url: str, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` on an instance's database from the test process (its own engine, disposed after)."""

    async def run() -> T:
        database = Database(database_url)
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(run())


def read_rows(database_url: str, statement: Any) -> list[Any]:
    """Rows of a ``select`` on an instance's database, read from outside its process."""

    async def read(database: Database) -> list[Any]:
        async with database.session() as session:
            return list((await session.execute(statement)).all())

    return on_database(database_url, read)


def create_user_with_followers(database_url: str, base_url: str, username: str, inbox_urls: Sequence[str]) -> None:
    """A local account followed by one remote actor per inbox (each its own host's shared inbox)."""

    async def seed(database: Database) -> None:
        await database.migrate()
        account = await create_account(database, Urls(base_url), username)
        async with database.transaction() as session:
            now = utcnow()
            actors = [
                {
                    "ap_id": f"{inbox.rsplit('/', 1)[0]}/users/follower",
                    "type": "Person",
                    "username": "follower",
                    "domain": inbox.split("/")[2],
                    "is_local": False,
                    "display_name": "",
                    "summary_html": "",
                    "inbox_url": f"{inbox.rsplit('/', 1)[0]}/users/follower/inbox",
                    "shared_inbox_url": inbox,
                    "manually_approves_followers": False,
                    "discoverable": False,
                    "indexable": False,
                    "fetched_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for inbox in inbox_urls
            ]
            await session.execute(insert(Actor), actors)
            ids = (await session.scalars(select(Actor.id).where(Actor.is_local.is_(False)))).all()
            follows = [
                {
                    "follower_id": actor_id,
                    "followee_id": account.actor_id,
                    "state": FollowState.ACCEPTED,
                    "created_at": now,
                }
                for actor_id in ids
            ]
            await session.execute(insert(Follow), follows)

    on_database(database_url, seed)


def delivery_states(database_url: str) -> dict[str, int]:
    """How many deliveries are in each state, and how many are claimed right now."""

    async def count(database: Database) -> dict[str, int]:
        async with database.session() as session:
            rows = (await session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))).all()
            claimed = await session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.locked_until > utcnow())
            )
        return {str(state): int(n) for state, n in rows} | {"claimed": int(claimed or 0)}

    return on_database(database_url, count)


def account_exists(database_url: str, username: str) -> bool:
    return bool(read_rows(database_url, select(Account.id).where(Account.username == username)))

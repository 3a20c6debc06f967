"""``Idempotency-Key``: a post made with a key is made once, however many times (and however nearly at
once) the request arrives, until that post is deleted (docs/client-api.md).

The key is claimed inside the post's own write transaction, before anything is written: on PostgreSQL a
transaction-scoped advisory lock on the (account, key) pair makes a second request with the same key wait
until the first commits or rolls back; on SQLite every write transaction already runs alone (``BEGIN
IMMEDIATE``). Either way the second one then sees the first's key row and raises ``AlreadyPosted``,
writing nothing, and its caller answers with the first post.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col

from fediverse.core.errors import Conflict
from storage.dialects import insert_for
from storage.models import IdempotencyKey, Post
from storage.types import utcnow

_LIVE_POST = (
    select(col(IdempotencyKey.post_id))
    .join(Post, col(Post.id) == col(IdempotencyKey.post_id))
    .where(
        col(IdempotencyKey.account_id) == bindparam("account_id"),
        col(IdempotencyKey.key) == bindparam("key"),
        col(Post.deleted_at).is_(None),
    )
)


class AlreadyPosted(Conflict):
    """This ``Idempotency-Key`` already made a post."""

    def __init__(self, post_id: int) -> None:
        super().__init__("A post was already made with this Idempotency-Key.")
        self.post_id = post_id


def posted_with(session: Session, account_id: int, key: str) -> int | None:
    """The id of the live post ``key`` made for the account, if any."""
    found = session.scalar(_LIVE_POST, {"account_id": account_id, "key": key})
    return int(found) if found is not None else None


def _lock_id(account_id: int, key: str) -> int:
    digest = hashlib.sha256(f"{account_id}\n{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def claim(session: AsyncSession, account_id: int, key: str) -> None:
    """Hold the key for this transaction; ``AlreadyPosted`` if it made a post that still stands."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _lock_id(account_id, key)})
    found = await session.scalar(_LIVE_POST, {"account_id": account_id, "key": key})
    if found is not None:
        raise AlreadyPosted(int(found))


async def remember(session: AsyncSession, account_id: int, key: str, post_id: int) -> None:
    """Record which post the key made (a key whose post was deleted now names the new one)."""
    dialect_insert = insert_for(session.get_bind().dialect.name)
    statement = dialect_insert(IdempotencyKey).values(
        account_id=account_id, key=key, post_id=post_id, created_at=utcnow()
    )
    await session.execute(
        statement.on_conflict_do_update(index_elements=["account_id", "key"], set_={"post_id": post_id})
    )

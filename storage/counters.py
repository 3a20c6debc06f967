"""The counter columns checked against the rows they count (decision 0052).

The database keeps ``actors.posts_count``/``followers_count``/``following_count`` and
``posts.likes_count``/``boosts_count``/``replies_count`` itself: triggers (migration 0007) change them in
the transaction that inserts, deletes or updates a counted row, whoever writes it. This module says what
each counter counts, once more, as queries: ``recount`` finds the counters that differ from their rows
(``reverie recount``; the tests' consistency check) and, when asked, sets them right.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from storage.models import Actor, Announce, Follow, FollowState, Like, Post, Visibility

LISTED = (Visibility.PUBLIC, Visibility.UNLISTED)


@dataclass(frozen=True)
class Miscount:
    table: str
    row_id: int
    column: str
    stored: int
    counted: int


def _reply() -> Any:
    return aliased(Post, name="reply")


def _post_counts() -> dict[str, Any]:
    """Each post counter as a correlated ``COUNT(*)`` over the rows it counts."""
    reply = _reply()
    return {
        "likes_count": select(func.count())
        .select_from(Like)
        .where(col(Like.post_id) == col(Post.id))
        .correlate(Post)
        .scalar_subquery(),
        "boosts_count": select(func.count())
        .select_from(Announce)
        .where(col(Announce.post_id) == col(Post.id))
        .correlate(Post)
        .scalar_subquery(),
        "replies_count": select(func.count())
        .select_from(reply)
        .where(reply.in_reply_to_id == col(Post.id), reply.deleted_at.is_(None))
        .correlate(Post)
        .scalar_subquery(),
    }


def _actor_counts() -> dict[str, Any]:
    accepted = col(Follow.state) == FollowState.ACCEPTED
    return {
        "posts_count": select(func.count())
        .select_from(Post)
        .where(col(Post.author_id) == col(Actor.id), col(Post.deleted_at).is_(None), col(Post.visibility).in_(LISTED))
        .correlate(Actor)
        .scalar_subquery(),
        "followers_count": select(func.count())
        .select_from(Follow)
        .where(col(Follow.followee_id) == col(Actor.id), accepted)
        .correlate(Actor)
        .scalar_subquery(),
        "following_count": select(func.count())
        .select_from(Follow)
        .where(col(Follow.follower_id) == col(Actor.id), accepted)
        .correlate(Actor)
        .scalar_subquery(),
    }


async def recount(session: AsyncSession, *, fix: bool = False) -> list[Miscount]:
    """The counters that differ from a count of their rows (a full scan: for a check, not for pages);
    with ``fix``, set them to the count, in the caller's transaction."""
    found: list[Miscount] = []
    for model, table, counts in ((Post, "posts", _post_counts()), (Actor, "actors", _actor_counts())):
        key = col(model.id)
        for column, counted in counts.items():
            stored = getattr(model, column)
            rows = await session.execute(select(key, stored, counted).where(stored != counted).order_by(key))
            wrong = [Miscount(table, int(row_id), column, int(have), int(want)) for row_id, have, want in rows]
            found += wrong
            if fix and wrong:
                await session.execute(
                    update(model)
                    .where(key.in_([item.row_id for item in wrong]))
                    .values({column: counted})
                    .execution_options(synchronize_session=False)
                )
    return found

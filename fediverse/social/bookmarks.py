"""Bookmarks: a local account's private list of posts, never federated. Call inside a write transaction."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core.errors import NotFound
from fediverse.core.visibility import can_see
from storage.models import Account, Bookmark, Post


async def bookmark_post(session: AsyncSession, account: Account, post: Post) -> Bookmark:
    """Bookmark a post the account may see (again: the same bookmark)."""
    if not await can_see(session, post, account.actor_id):
        raise NotFound("No such post.")
    existing = await session.scalar(
        select(Bookmark).where(col(Bookmark.account_id) == account.id, col(Bookmark.post_id) == post.id)
    )
    if existing is not None:
        return existing
    bookmark = Bookmark(account_id=account.id or 0, post_id=post.id)
    session.add(bookmark)
    await session.flush()
    return bookmark


async def unbookmark_post(session: AsyncSession, account: Account, post: Post) -> None:
    await session.execute(
        delete(Bookmark).where(col(Bookmark.account_id) == account.id, col(Bookmark.post_id) == post.id)
    )

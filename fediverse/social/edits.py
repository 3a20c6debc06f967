"""A post's earlier versions (``PostEdit``): each edit, ours (``posts.edit_post``) or a peer's
(``Update{Note}`` in the inbox), first keeps the post as it stood, in the edit's transaction, so that
``GET /api/v1/statuses/:id/history`` can list every version. A deleted post's versions go with it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Media, Post, PostEdit, PostMedia


async def keep_version(session: AsyncSession, post: Post, media: Sequence[Media] | None = None) -> PostEdit:
    """Record ``post`` as it stands, before an edit changes it; ``media`` are its attachments in order
    (read here when not given). The version is dated when it was written: the last edit, or publication."""
    if media is None:
        media = list(
            await session.scalars(
                select(Media)
                .join(PostMedia, col(PostMedia.media_id) == col(Media.id))
                .where(col(PostMedia.post_id) == post.id)
                .order_by(col(PostMedia.position))
            )
        )
    version = PostEdit(
        post_id=post.id,
        content_html=post.content_html,
        summary=post.summary,
        sensitive=post.sensitive,
        media=[{"id": item.id, "description": item.alt_text} for item in media],
        created_at=post.edited_at or post.published,
    )
    session.add(version)
    return version

"""An author's pinned posts (``social/pins.py`` pins them): newest pin first, only those still there.

One read for the actor's ``featured`` collection, the client API's ``pinned=true`` and the profile page,
so the three always agree.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session
from sqlmodel import col

from fediverse.core.visibility import visible_to
from storage.columns import key_col
from storage.models import Post, Visibility


def pinned(author_id: int) -> tuple[ColumnElement[bool], ...]:
    """The WHERE conditions of an author's pinned posts (public or unlisted, not deleted)."""
    return (
        col(Post.author_id) == author_id,
        col(Post.pinned_at).is_not(None),
        col(Post.deleted_at).is_(None),
        col(Post.visibility).in_([Visibility.PUBLIC, Visibility.UNLISTED]),
    )


def pinned_post_ids(session: Session, author_id: int, viewer_actor_id: int | None) -> list[int]:
    """The author's pinned posts that the viewer may see (``None``: anyone), the newest pin first."""
    query = (
        select(key_col(Post.id))
        .where(*pinned(author_id), visible_to(viewer_actor_id))
        .order_by(col(Post.pinned_at).desc(), col(Post.id))
    )
    return [int(post_id) for post_id in session.scalars(query)]

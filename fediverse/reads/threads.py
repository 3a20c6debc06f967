"""A post's conversation as a viewer may read it: the chain of posts above it and the replies below, each
checked by ``core.visibility`` (the post page and the client API's ``context`` both read it here)."""

from __future__ import annotations

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session
from sqlmodel import col

from fediverse.core.blocking import not_hidden_from
from fediverse.core.visibility import may_see, visible_to
from fediverse.reads.post_views import WITHOUT_RAW_POST
from storage.columns import key_col
from storage.models import Post

MAX_ANCESTORS = 20
MAX_REPLIES = 200

_PARENT = select(Post).where(col(Post.id) == bindparam("id")).options(WITHOUT_RAW_POST)


def ancestors(session: Session, post: Post, viewer_actor_id: int | None, *, limit: int = MAX_ANCESTORS) -> list[Post]:
    """The posts ``post`` answers, oldest first, up to the first one the viewer may not see."""
    chain: list[Post] = []
    parent_id = post.in_reply_to_id
    while parent_id is not None and len(chain) < limit:
        parent = session.scalar(_PARENT, {"id": parent_id})
        if parent is None or not may_see(session, parent, viewer_actor_id):
            break
        chain.append(parent)
        parent_id = parent.in_reply_to_id
    return chain[::-1]


def descendants(
    session: Session, post: Post, viewer_actor_id: int | None, *, limit: int = MAX_REPLIES
) -> list[tuple[int, int]]:
    """``(post id, depth)`` of the replies under ``post`` in thread order (depth first, oldest first)."""
    children: dict[int | None, list[int]] = {}
    frontier, seen = [post.id], 0
    shown = visible_to(viewer_actor_id)
    if viewer_actor_id is not None:  # replies by accounts the viewer blocks or mutes stay out of the thread
        shown = and_(shown, not_hidden_from(Post.author_id, viewer_actor_id))
    while frontier and seen < limit:
        rows = session.execute(
            select(key_col(Post.id), col(Post.in_reply_to_id))
            .where(col(Post.in_reply_to_id).in_(frontier), col(Post.deleted_at).is_(None), shown)
            .order_by(col(Post.id))
            .limit(limit - seen)
        )
        frontier = []
        for reply_id, parent_id in rows:
            assert parent_id is not None
            children.setdefault(parent_id, []).append(reply_id)
            frontier.append(reply_id)
            seen += 1
    ordered: list[tuple[int, int]] = []

    def walk(parent_id: int, depth: int) -> None:
        for child in children.get(parent_id, []):
            ordered.append((child, depth))
            walk(child, depth + 1)

    walk(post.id, 0)
    return ordered

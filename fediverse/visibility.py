"""Who may see a post: one SQL condition for lists and one check for single posts, kept in step.

Public and unlisted posts are for everyone; followers-only posts for the author and accepted
followers; direct posts for the author and the accounts they mention.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Follow, FollowState, Mention, Post, Visibility

OPEN = (Visibility.PUBLIC, Visibility.UNLISTED)


def followed_ids(viewer_actor_id: int) -> ColumnElement[int]:
    """Actor ids ``viewer`` follows (accepted), as a subquery."""
    return (  # type: ignore[return-value]
        select(Follow.followee_id)
        .where(Follow.follower_id == viewer_actor_id, Follow.state == FollowState.ACCEPTED)
        .scalar_subquery()
    )


def visible_to(viewer_actor_id: int | None) -> ColumnElement[bool]:
    """A WHERE clause for posts ``viewer`` may see (``None``: a visitor who is not signed in)."""
    if viewer_actor_id is None:
        return Post.visibility.in_(OPEN)
    mentioned = select(Mention.post_id).where(Mention.actor_id == viewer_actor_id)
    return or_(
        Post.visibility.in_(OPEN),
        Post.author_id == viewer_actor_id,
        and_(Post.visibility == Visibility.FOLLOWERS, Post.author_id.in_(followed_ids(viewer_actor_id))),
        Post.id.in_(mentioned),
    )


async def can_see(session: AsyncSession, post: Post, viewer_actor_id: int | None) -> bool:
    if post.deleted_at is not None:
        return False
    if post.visibility in OPEN or post.author_id == viewer_actor_id:
        return True
    if viewer_actor_id is None:
        return False
    found = await session.scalar(select(Post.id).where(Post.id == post.id, visible_to(viewer_actor_id)))
    return found is not None

"""Who may see a post: one SQL condition for lists and one check for single posts, kept in step.

Public and unlisted posts are for everyone; followers-only posts for the author and accepted
followers; direct posts for the author and the accounts they mention. Nothing is seen across a block,
either way: the blocked account does not see the blocker's posts, nor the blocker the blocked one's.
A local reply that waits for the approval of the author it answers (GoToSocial's flow, ``Post.approval``,
decision 0063), or that they rejected, is for its own author and the author it answers alone, whatever its
visibility, until it is approved.

This is the one read rule. Post pages, profiles, threads, search, the reply forms and the JSON API ask
it of a local viewer; notifications ask it of their recipient, when written and again when read; incoming
likes, boosts and replies ask it of the remote actor that sends them (a viewer is any actor id).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from fediverse.core.blocking import Viewer, not_blocked_between, not_blocking
from storage.models import Follow, FollowState, Mention, Post, Visibility

OPEN = (Visibility.PUBLIC, Visibility.UNLISTED)


def followed_ids(viewer_actor_id: Viewer) -> ColumnElement[int]:
    """Actor ids ``viewer`` follows (accepted), as a subquery."""
    return (
        select(col(Follow.followee_id))
        .where(col(Follow.follower_id) == viewer_actor_id, col(Follow.state) == FollowState.ACCEPTED)
        .scalar_subquery()
    )


def visible_to(viewer_actor_id: Viewer | None, *, despite_own_blocks: bool = False) -> ColumnElement[bool]:
    """A WHERE clause for posts ``viewer`` may see (``None``: a visitor who is not signed in; a column: each
    row's actor, the subqueries correlated to it, to ask many viewers in one statement). Deleted
    posts are the caller's to leave out. ``despite_own_blocks`` keeps the posts of accounts the viewer
    blocks (a report may name them), never those of accounts that block the viewer."""
    if viewer_actor_id is None:
        return and_(col(Post.visibility).in_(OPEN), col(Post.approval).is_(None))
    mentioned = select(col(Mention.post_id)).where(col(Mention.actor_id) == viewer_actor_id)
    addressed = or_(
        col(Post.visibility).in_(OPEN),
        col(Post.author_id) == viewer_actor_id,
        and_(col(Post.visibility) == Visibility.FOLLOWERS, col(Post.author_id).in_(followed_ids(viewer_actor_id))),
        col(Post.id).in_(mentioned),
    )
    unblocked = (not_blocking if despite_own_blocks else not_blocked_between)(Post.author_id, viewer_actor_id)
    return and_(addressed, unblocked, _settled_for(viewer_actor_id))


def _settled_for(viewer_actor_id: Viewer) -> ColumnElement[bool]:
    """No approval awaited or refused, or the viewer is the reply's author or the author it answers."""
    parent = aliased(Post, name="answered")
    answered_viewer = select(col(parent.id)).where(col(parent.author_id) == viewer_actor_id)
    return or_(
        col(Post.approval).is_(None),
        col(Post.author_id) == viewer_actor_id,
        col(Post.in_reply_to_id).in_(answered_viewer),
    )


async def can_see(session: AsyncSession, post: Post, viewer_actor_id: int | None) -> bool:
    """``may_see`` on an async session."""
    return await session.run_sync(may_see, post, viewer_actor_id)


def may_see(session: Session, post: Post, viewer_actor_id: int | None) -> bool:
    """``visible_to`` for one post; a deleted post is seen by nobody (in a unit of work)."""
    if post.deleted_at is not None:
        return False
    if post.author_id == viewer_actor_id:
        return True
    if viewer_actor_id is None:
        return post.visibility in OPEN and post.approval is None
    found = session.scalar(select(col(Post.id)).where(col(Post.id) == post.id, visible_to(viewer_actor_id)))
    return found is not None

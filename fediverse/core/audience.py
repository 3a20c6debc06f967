"""Who may read a post or one of our activities: the rule behind every object URL.

Mastodon's ``StatusPolicy#show?``: the web pages' rule (``fediverse.core.visibility``: public and unlisted for
anyone, followers-only for accepted followers and the people mentioned, direct for the people
mentioned), and an author who blocks a reader hides everything from them. A reader is a remote actor
proven by a signed GET (or nobody); an instance actor follows no one, so it reads public things only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col

from activitypub.vocab import PUBLIC_ALIASES, audience, get_id, get_ids
from fediverse.core.visibility import OPEN, visible_to
from storage.models import Actor, Block, Follow, FollowState, Post

OPEN_VISIBILITIES = frozenset(OPEN)


async def is_blocked_by(session: AsyncSession, owner_id: int, reader: Actor) -> bool:
    return await session.run_sync(blocks, owner_id, reader.id)


def blocks(session: Session, owner_id: int, reader_id: int | None) -> bool:
    """Whether ``owner_id`` blocks ``reader_id`` (in a unit of work)."""
    found = session.scalar(
        select(col(Block.id)).where(col(Block.blocker_id) == owner_id, col(Block.blocked_id) == reader_id)
    )
    return found is not None


async def is_follower(session: AsyncSession, followee_id: int, reader: Actor) -> bool:
    found = await session.scalar(
        select(col(Follow.id)).where(
            col(Follow.followee_id) == followee_id,
            col(Follow.follower_id) == reader.id,
            col(Follow.state) == FollowState.ACCEPTED,
        )
    )
    return found is not None


async def may_read_post(session: AsyncSession, post: Post, reader: Actor | None) -> bool:
    """``fediverse.core.visibility``'s rule for a remote reader, who is also refused by an author blocking them.
    Deleted posts count as readable here: their id answers 410, not 404."""
    if reader is not None and reader.id == post.author_id:
        return True
    if reader is not None and await is_blocked_by(session, post.author_id, reader):
        return False
    if post.visibility in OPEN_VISIBILITIES and post.approval is None:
        return True
    if reader is None or reader.id is None:
        return False
    found = await session.scalar(select(col(Post.id)).where(col(Post.id) == post.id, visible_to(reader.id)))
    return found is not None


async def may_read_activity(
    session: AsyncSession, activity: dict[str, Any], owner: Actor, reader: Actor | None
) -> bool:
    """An activity addressed to the public is for anyone; any other for its addressees: ``to``/``cc``
    (the owner's followers collection standing for the accepted followers), the object it acts on
    (a Follow's followee), the actor of an embedded activity (an Accept's follower), or the author of
    the post it acts on (a Like's author)."""
    addressees = audience(activity)
    if addressees & PUBLIC_ALIASES:
        return reader is None or owner.id is None or not await is_blocked_by(session, owner.id, reader)
    if reader is None or owner.id is None or await is_blocked_by(session, owner.id, reader):
        return False
    embedded = activity.get("object")
    object_id = get_id(embedded)
    related = {*addressees, *([object_id] if object_id else [])}
    if isinstance(embedded, dict):
        related.update(get_ids(embedded.get("actor")))
    if reader.ap_id in related:
        return True
    if object_id is not None:
        author_id = await session.scalar(select(col(Post.author_id)).where(col(Post.ap_id) == object_id))
        if author_id is not None and author_id == reader.id:
            return True
    return bool(owner.followers_url in addressees) and await is_follower(session, owner.id, reader)

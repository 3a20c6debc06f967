"""Pinned posts: a local author pins up to ``MAX_PINS`` of their own public or unlisted posts to their
profile, as Mastodon allows. The pins are the actor's ``featured`` collection (Mastodon's
``toot:featured``); each pin and unpin is sent to the author's followers as ``Add`` / ``Remove`` with that
collection as ``target``, as Mastodon sends them, so their servers show the pins without fetching the
collection again. A deleted post leaves the collection with its ``Delete``.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fediverse.core.errors import NotFound, UnprocessableEntity
from fediverse.core.urls import Urls
from fediverse.federation.activities import add_activity, new_activity_id, remove_activity
from fediverse.federation.outbox import follower_inboxes, queue_activity
from fediverse.reads.pins import pinned
from storage.models import Account, Actor, Post, Visibility
from storage.types import utcnow

#: Mastodon's limit (``StatusPinValidator``) for local accounts.
MAX_PINS = 5


async def pin_post(session: AsyncSession, urls: Urls, account: Account, post: Post) -> bool:
    """Pin ``post`` (the account's own, public or unlisted, not deleted); False when it already was."""
    actor = await _author(session, account, post)
    if post.pinned_at is not None:
        return False
    if post.visibility not in (Visibility.PUBLIC, Visibility.UNLISTED):
        raise UnprocessableEntity("Followers-only and direct posts cannot be pinned.")
    count = await session.scalar(select(func.count()).select_from(Post).where(*pinned(account.actor_id)))
    if (count or 0) >= MAX_PINS:
        raise UnprocessableEntity(f"You can pin at most {MAX_PINS} posts.")
    post.pinned_at = utcnow()
    await _tell_followers(session, urls, account, actor, post, add=True)
    return True


async def unpin_post(session: AsyncSession, urls: Urls, account: Account, post: Post) -> bool:
    """Unpin the account's own ``post``; False when it was not pinned."""
    actor = await _author(session, account, post)
    if post.pinned_at is None:
        return False
    post.pinned_at = None
    await _tell_followers(session, urls, account, actor, post, add=False)
    return True


async def _author(session: AsyncSession, account: Account, post: Post) -> Actor:
    if post.author_id != account.actor_id or post.deleted_at is not None:
        raise NotFound("No such post of yours.")
    actor = await session.get(Actor, account.actor_id)
    assert actor is not None
    return actor


async def _tell_followers(
    session: AsyncSession, urls: Urls, account: Account, actor: Actor, post: Post, *, add: bool
) -> None:
    build = add_activity if add else remove_activity
    activity = build(
        new_activity_id(urls, account.username), actor.ap_id, post.ap_id, urls.featured_url(account.username)
    )
    inboxes = await follower_inboxes(session, account.actor_id)
    await queue_activity(session, actor, activity, inboxes, local_base_url=urls.base_url)

"""A local account changes its profile: the rows change and ``Update{Person}`` goes to every server that
follows the account or is followed by it (Mastodon refreshes a profile from either side). A replaced
avatar or header is deleted with the change; its files go once the transaction has committed.

Call inside a write transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col

from activitypub.vocab import PUBLIC
from fediverse.core.media_files import keys_of
from fediverse.core.names import clean_display_name
from fediverse.core.text import render_text
from fediverse.core.urls import Urls
from fediverse.federation.activities import new_activity_id, update_activity
from fediverse.federation.documents import ActorImages, actor_document
from fediverse.federation.outbox import follower_inboxes, following_inboxes, queue_activity
from storage.cache import ACCOUNTS, bump
from storage.models import Account, Actor, Media, PostMedia
from storage.types import utcnow

MAX_DISPLAY_NAME_LENGTH = 100
MAX_BIO_LENGTH = 1000


@dataclass(frozen=True)
class ProfileChanges:
    display_name: str
    bio: str
    manually_approves_followers: bool
    avatar: Media | None = None  # a new avatar (already stored), or None to keep the old one
    header: Media | None = None
    discoverable: bool | None = None  # None keeps it as it is


async def update_profile(
    session: AsyncSession, urls: Urls, account: Account, actor: Actor, changes: ProfileChanges
) -> set[str]:
    """Apply ``changes``; returns the keys of the replaced images' files, to forget after the commit
    (``fediverse.core.media_files.forget_files``)."""
    replaced: set[str] = set()
    actor.display_name = clean_display_name(changes.display_name)
    actor.summary_html = render_text(changes.bio, local_host=urls.host, tag_url=urls.tag_url, mentions={})
    actor.manually_approves_followers = changes.manually_approves_followers
    if changes.discoverable is not None:
        actor.discoverable = changes.discoverable
    if changes.avatar is not None:
        replaced |= await _drop_profile_image(session, account, account.avatar_media_id)
        account.avatar_media_id = await _store(session, changes.avatar)
        actor.icon_url = urls.media_url(changes.avatar.thumbnail_key or changes.avatar.display_key or "")
    if changes.header is not None:
        replaced |= await _drop_profile_image(session, account, account.header_media_id)
        account.header_media_id = await _store(session, changes.header)
        actor.header_url = urls.media_url(changes.header.display_key or "")
    await send_profile_update(session, urls, account, actor)
    return replaced


async def send_profile_update(session: AsyncSession, urls: Urls, account: Account, actor: Actor) -> None:
    """The actor changed (profile, aliases, a move): drop the cached documents and send ``Update{Person}``
    with the new document to every server that follows the account or is followed by it."""
    actor.updated_at = utcnow()
    await session.flush()
    await bump(session, ACCOUNTS)
    document = actor_document(actor, account, urls, await load_actor_images(session, account))
    document.pop("@context", None)
    activity = update_activity(
        new_activity_id(urls, account.username), actor.ap_id, document, [PUBLIC], [actor.followers_url or ""]
    )
    assert actor.id is not None
    inboxes = [*await follower_inboxes(session, actor.id), *await following_inboxes(session, actor.id)]
    await queue_activity(session, actor, activity, inboxes, local_base_url=urls.base_url)


async def load_actor_images(session: AsyncSession, account: Account) -> ActorImages:
    """The avatar and header of a local account, for its actor document."""
    return await session.run_sync(actor_images, account.avatar_media_id, account.header_media_id)


def actor_images(session: Session, avatar_media_id: int | None, header_media_id: int | None) -> ActorImages:
    """``load_actor_images`` in a unit of work; no query when the account has neither."""
    wanted = [media_id for media_id in (avatar_media_id, header_media_id) if media_id is not None]
    if not wanted:
        return ActorImages()
    found = {media.id: media for media in session.scalars(select(Media).where(col(Media.id).in_(wanted)))}
    return ActorImages(icon=found.get(avatar_media_id), header=found.get(header_media_id))


async def _drop_profile_image(session: AsyncSession, account: Account, media_id: int | None) -> set[str]:
    """Delete the account's old avatar or header row, and return the keys of its files. A row that is
    someone else's, or also a post's attachment, stays."""
    old = await session.get(Media, media_id) if media_id is not None else None
    if old is None or old.owner_account_id != account.id:
        return set()
    if (
        await session.scalar(select(col(PostMedia.post_id)).where(col(PostMedia.media_id) == old.id).limit(1))
        is not None
    ):
        return set()
    await session.delete(old)
    return keys_of(old)


async def _store(session: AsyncSession, media: Media) -> int:
    session.add(media)
    await session.flush()
    assert media.id is not None
    return media.id

"""A local account's public profile: changing it and telling the servers that know it.

Call inside a write transaction. The ``Update{Person}`` goes to every server that follows the account
or is followed by it (Mastodon refreshes a profile from either), addressed to the public as Mastodon
addresses its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activitypub.vocab import PUBLIC
from fediverse.errors import BadRequest
from fediverse.federation.activities import new_activity_id, update_activity
from fediverse.federation.documents import ActorImages, actor_document
from fediverse.federation.outbox import follower_inboxes, following_inboxes, queue_activity
from fediverse.text import render_text
from fediverse.urls import Urls
from storage.models import Account, Actor, Media
from storage.types import utcnow

MAX_DISPLAY_NAME_LENGTH = 100
MAX_BIO_LENGTH = 2000


@dataclass(frozen=True)
class ProfileChanges:
    """What the person changed; ``None`` leaves a field as it is."""

    display_name: str | None = None
    bio: str | None = None
    manually_approves_followers: bool | None = None
    discoverable: bool | None = None


async def load_actor_images(session: AsyncSession, account: Account) -> ActorImages:
    """The avatar and header of a local account, for its actor document."""
    wanted = [media_id for media_id in (account.avatar_media_id, account.header_media_id) if media_id is not None]
    found = {media.id: media for media in await session.scalars(select(Media).where(Media.id.in_(wanted)))}
    return ActorImages(icon=found.get(account.avatar_media_id), header=found.get(account.header_media_id))


def render_bio(bio: str, urls: Urls) -> str:
    return render_text(bio, local_host=urls.host, tag_url=urls.tag_url, mentions={})


async def update_profile(session: AsyncSession, urls: Urls, account: Account, changes: ProfileChanges) -> Actor:
    """Apply ``changes`` to the account's actor and send ``Update{Person}``."""
    actor = await session.get(Actor, account.actor_id)
    assert actor is not None and actor.id is not None
    if changes.display_name is not None:
        if len(changes.display_name) > MAX_DISPLAY_NAME_LENGTH:
            raise BadRequest(f"Display names may have at most {MAX_DISPLAY_NAME_LENGTH} characters.")
        actor.display_name = changes.display_name.strip()
    if changes.bio is not None:
        if len(changes.bio) > MAX_BIO_LENGTH:
            raise BadRequest(f"Bios may have at most {MAX_BIO_LENGTH} characters.")
        actor.summary_html = render_bio(changes.bio, urls)
    if changes.manually_approves_followers is not None:
        actor.manually_approves_followers = changes.manually_approves_followers
    if changes.discoverable is not None:
        actor.discoverable = actor.indexable = changes.discoverable
    actor.updated_at = utcnow()
    document = actor_document(actor, account, urls, await load_actor_images(session, account))
    activity = update_activity(
        new_activity_id(urls, account.username), actor.ap_id, document, [PUBLIC], [urls.followers_url(account.username)]
    )
    inboxes = [*await follower_inboxes(session, actor.id), *await following_inboxes(session, actor.id)]
    await queue_activity(session, actor, activity, inboxes, local_base_url=urls.base_url)
    return actor

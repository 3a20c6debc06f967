"""Remote files we show, as ``REMOTE`` media rows queued for the cache (decision 0059).

A remote post's attachments and a remote actor's avatar and header are never loaded by our readers'
browsers from their origin: each is a ``Media`` row that records the one URL it may be fetched from, and a
``MediaFetch`` row asks the worker to fetch it into our media store (``media_cache``). These functions run
inside the caller's write transaction, so a stored post or actor and its queued files commit together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from activitypub.vocab import get_str, get_types, get_url, iter_objects
from storage.columns import table_of
from storage.dialects import insert_for
from storage.models import Actor, CustomEmoji, Media, MediaFetch, MediaState, WorkState
from storage.types import utcnow

#: What a remote avatar or header is until its bytes are seen (actor documents rarely say).
UNKNOWN_IMAGE_TYPE = "image/*"
#: A custom emoji's shortcode, as Mastodon accepts it (``CustomEmoji::SHORTCODE_RE_FRAGMENT``), bounded.
SHORTCODE = re.compile(r"[A-Za-z0-9_]{2,100}")
#: Emoji kept per post or actor (the rest ignored); Mastodon renders any number, nobody needs more.
MAX_EMOJIS = 50


async def queue_media_fetches(session: AsyncSession, media_ids: Iterable[int | None]) -> None:
    """Ask the worker to cache these files; a file already queued (or done, or given up) stays as it is."""
    ids = [media_id for media_id in dict.fromkeys(media_ids) if media_id is not None]
    if not ids:
        return
    dialect_insert = insert_for(session.get_bind().dialect.name)
    now = utcnow()
    rows = [
        {"media_id": media_id, "state": WorkState.QUEUED, "attempts": 0, "next_attempt_at": now, "created_at": now}
        for media_id in ids
    ]
    await session.execute(dialect_insert(MediaFetch).values(rows).on_conflict_do_nothing(index_elements=["media_id"]))


async def adopt_actor_images(session: AsyncSession, actor: Actor) -> None:
    """Point a remote actor's ``avatar_media_id`` and ``header_media_id`` at media rows for its current
    ``icon_url`` and ``header_url``: a new row (queued for the cache) when the URL changed, none when it has
    no image. A replaced row is left for housekeeping, which removes remote rows nothing uses."""
    if actor.is_local:
        return
    wanted = {"avatar_media_id": actor.icon_url, "header_media_id": actor.header_url}
    current_ids = [media_id for media_id in (actor.avatar_media_id, actor.header_media_id) if media_id is not None]
    known: dict[int, str | None] = {}
    if current_ids:
        rows = await session.execute(select(col(Media.id), col(Media.remote_url)).where(col(Media.id).in_(current_ids)))
        known = {media_id: url for media_id, url in rows if media_id is not None}
    added = []
    for column, url in wanted.items():
        current = getattr(actor, column)
        if not url:
            setattr(actor, column, None)
            continue
        if current is not None and known.get(current) == url:
            continue
        media = Media(state=MediaState.REMOTE, mime=UNKNOWN_IMAGE_TYPE, remote_url=url)
        session.add(media)
        await session.flush()
        setattr(actor, column, media.id)
        added.append(media.id)
    await queue_media_fetches(session, added)


@dataclass(frozen=True)
class EmojiTag:
    shortcode: str
    image_url: str
    ap_id: str | None


def emoji_tags(document: Mapping[str, Any]) -> list[EmojiTag]:
    """The usable ``Emoji`` tags of a note or actor document (Mastodon's and Misskey's shape:
    ``{"type": "Emoji", "name": ":blobcat:", "icon": {"type": "Image", "url": …}}``), at most ``MAX_EMOJIS``."""
    found: dict[str, EmojiTag] = {}
    for tag in iter_objects(document.get("tag")):
        if "Emoji" not in get_types(tag):
            continue
        shortcode = (get_str(tag, "name") or "").strip(":")
        icon = next(iter_objects(tag.get("icon")), None)
        url = get_url(icon.get("url")) if icon is not None else None
        media_type = (get_str(icon, "mediaType") or "image/") if icon is not None else ""
        if SHORTCODE.fullmatch(shortcode) and url and media_type.startswith("image/") and shortcode not in found:
            found[shortcode] = EmojiTag(shortcode, url, get_str(tag, "id"))
    return list(found.values())[:MAX_EMOJIS]


async def store_emojis(session: AsyncSession, domain: str, tags: list[EmojiTag]) -> dict[str, int] | None:
    """The media rows of ``domain``'s custom emoji named in ``tags``, by shortcode (``None`` for none): known
    ones reused, new ones stored and queued for the cache. An emoji whose image URL changed keeps its media
    row, pointed at the new URL and fetched again."""
    if not tags:
        return None
    known = {
        emoji.shortcode: emoji
        for emoji in await session.scalars(
            select(CustomEmoji).where(
                col(CustomEmoji.domain) == domain, col(CustomEmoji.shortcode).in_([tag.shortcode for tag in tags])
            )
        )
    }
    found: dict[str, int] = {}
    queued: list[int] = []
    for tag in tags:
        emoji = known.get(tag.shortcode)
        if emoji is None:
            media = Media(state=MediaState.REMOTE, mime=UNKNOWN_IMAGE_TYPE, remote_url=tag.image_url)
            session.add(media)
            await session.flush()
            assert media.id is not None
            emoji = CustomEmoji(
                shortcode=tag.shortcode, domain=domain, ap_id=tag.ap_id, media_id=media.id, image_url=tag.image_url
            )
            session.add(emoji)
            queued.append(media.id)
        elif emoji.image_url != tag.image_url:
            await session.execute(
                update(Media)
                .where(col(Media.id) == emoji.media_id)
                .values(
                    remote_url=tag.image_url,
                    original_key=None,
                    display_key=None,
                    thumbnail_key=None,
                    cached_at=None,
                    fetch_error=None,
                )
                .execution_options(synchronize_session=False)
            )
            emoji.image_url, emoji.updated_at = tag.image_url, utcnow()
            await requeue_media_fetch(session, emoji.media_id)
        found[tag.shortcode] = emoji.media_id
    await session.flush()
    await queue_media_fetches(session, queued)
    return found


async def requeue_media_fetch(session: AsyncSession, media_id: int, *, only_if_done: bool = False) -> None:
    """Queue a file again whatever became of its last fetch (its URL changed: the old copy's files are left to
    housekeeping's sweep of files no row uses); with ``only_if_done``, only a fetch that had finished (its
    copy was pruned), leaving one queued, running or given up as it is."""
    dialect_insert = insert_for(session.get_bind().dialect.name)
    now = utcnow()
    table = table_of(MediaFetch)
    await session.execute(
        dialect_insert(MediaFetch)
        .values(media_id=media_id, state=WorkState.QUEUED, attempts=0, next_attempt_at=now, created_at=now)
        .on_conflict_do_update(
            index_elements=["media_id"],
            set_={"state": WorkState.QUEUED, "attempts": 0, "next_attempt_at": now, "finished_at": None},
            where=(table.c.state == WorkState.DONE) if only_if_done else None,
        )
    )


async def adopt_actor_emojis(session: AsyncSession, actor: Actor) -> None:
    """Set a remote actor's ``emojis`` from the ``Emoji`` tags of its document (its name and bio show them)."""
    if actor.is_local:
        return
    actor.emojis = await store_emojis(session, actor.domain, emoji_tags(actor.raw or {}))

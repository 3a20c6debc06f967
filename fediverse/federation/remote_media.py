"""Remote files we show, as ``REMOTE`` media rows queued for the cache (decision 0059).

A remote post's attachments and a remote actor's avatar and header are never loaded by our readers'
browsers from their origin: each is a ``Media`` row that records the one URL it may be fetched from, and a
``MediaFetch`` row asks the worker to fetch it into our media store (``media_cache``). These functions run
inside the caller's write transaction, so a stored post or actor and its queued files commit together.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Actor, Media, MediaFetch, MediaState, WorkState
from storage.types import utcnow

#: What a remote avatar or header is until its bytes are seen (actor documents rarely say).
UNKNOWN_IMAGE_TYPE = "image/*"


async def queue_media_fetches(session: AsyncSession, media_ids: Iterable[int | None]) -> None:
    """Ask the worker to cache these files; a file already queued (or done, or given up) stays as it is."""
    ids = [media_id for media_id in dict.fromkeys(media_ids) if media_id is not None]
    if not ids:
        return
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
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

"""What every inbox handler needs, and the small lookups they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from activitypub.errors import InvalidDocumentError
from activitypub.vocab import get_id
from fediverse.core.urls import Urls
from fediverse.federation.resolve import Resolver
from storage.db import Database
from storage.models import Actor, Post


@dataclass(frozen=True)
class IngestContext:
    db: Database
    urls: Urls
    resolver: Resolver
    #: Drops a cached public key (after a profile update may have rotated it).
    forget_key: Callable[[str | None], None]


def object_id(activity: dict[str, Any]) -> str:
    """The id of the activity's object (an IRI or an embedded object), or ``InvalidDocumentError``."""
    found = get_id(activity.get("object"))
    if not found:
        raise InvalidDocumentError("the activity has no object")
    return found


def embedded_object(activity: dict[str, Any]) -> dict[str, Any] | None:
    value = activity.get("object")
    return value if isinstance(value, dict) else None


async def local_actor(session: AsyncSession, ap_id: str) -> Actor | None:
    return await session.scalar(select(Actor).where(col(Actor.ap_id) == ap_id, col(Actor.is_local).is_(True)))


async def post_by_id(session: AsyncSession, ap_id: str) -> Post | None:
    return await session.scalar(select(Post).where(col(Post.ap_id) == ap_id))


async def reload(session: AsyncSession, actor: Actor) -> Actor:
    """The same actor, attached to ``session``."""
    attached = await session.get(Actor, actor.id)
    if attached is None:
        raise InvalidDocumentError("the actor vanished")
    return attached

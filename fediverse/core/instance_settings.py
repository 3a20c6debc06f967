"""Instance-wide settings an admin can change at run time (name, description, registration mode).

Stored in ``instance_settings``; the environment provides the defaults until an admin saves a value.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col

from fediverse.core.config import REGISTRATION_MODES, Settings
from fediverse.core.errors import BadRequest
from storage.cache import INSTANCE, bump
from storage.db import Database
from storage.models import InstanceSetting

MAX_NAME_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 2000


@dataclass(frozen=True)
class InstanceInfo:
    name: str
    description: str
    registrations: str


#: Two columns, read with Core: a page asks for them on every request.
_ALL_SETTINGS = select(col(InstanceSetting.key), col(InstanceSetting.value))


async def instance_settings(db: Database, settings: Settings) -> InstanceInfo:
    """The settings as every page shows them, from this process's cache (``storage.cache``: an admin's
    change is seen here at once, in other processes within a second); a miss reads them in one unit of work."""
    cache = db.stamps.cache("instance settings", (INSTANCE,), max_entries=4)

    async def load() -> InstanceInfo:
        return await db.read(lambda session: read_instance_settings(session, settings))

    found = await cache.get((settings.instance_name, settings.registrations), load)
    assert isinstance(found, InstanceInfo)
    return found


async def get_instance_settings(session: AsyncSession, settings: Settings) -> InstanceInfo:
    """The settings as stored now, read in ``session`` (``read_instance_settings`` on an async session)."""
    return await session.run_sync(read_instance_settings, settings)


def read_instance_settings(session: Session, settings: Settings) -> InstanceInfo:
    """The instance's settings, stored values over the environment's defaults (in a unit of work)."""
    stored = {key: value for key, value in session.connection().execute(_ALL_SETTINGS)}
    return InstanceInfo(
        name=stored.get("name", settings.instance_name),
        description=stored.get("description", ""),
        registrations=stored.get("registrations", settings.registrations),
    )


async def save_instance_settings(session: AsyncSession, info: InstanceInfo) -> None:
    """Validate and store; call inside a write transaction."""
    if not info.name.strip() or len(info.name) > MAX_NAME_LENGTH:
        raise BadRequest(f"The instance name needs 1–{MAX_NAME_LENGTH} characters.")
    if len(info.description) > MAX_DESCRIPTION_LENGTH:
        raise BadRequest(f"The description may have at most {MAX_DESCRIPTION_LENGTH} characters.")
    if info.registrations not in REGISTRATION_MODES:
        raise BadRequest("Unknown registration mode.")
    for key, value in (
        ("name", info.name.strip()),
        ("description", info.description),
        ("registrations", info.registrations),
    ):
        await session.merge(InstanceSetting(key=key, value=value))
    await bump(session, INSTANCE)

"""Small helpers for housekeeping tests: age rows and files instead of waiting."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from sqlalchemy import update
from starlette.testclient import TestClient

from fediverse.housekeeping.sweep import SweepReport, sweep
from storage.models import Media
from storage.types import utcnow
from tests.conftest import run_in_app, services_of


def age_draft(client: TestClient, media_id: int, age: timedelta) -> None:
    """Make a draft look ``age`` old."""

    async def run() -> None:
        async with services_of(client).db.transaction() as session:
            await session.execute(update(Media).where(Media.id == media_id).values(created_at=utcnow() - age))

    run_in_app(client, run)


def age_file(client: TestClient, key: str, age: timedelta) -> None:
    """Make a stored file look last written ``age`` ago."""
    when = (utcnow() - age).timestamp()
    os.utime(services_of(client).settings.media_dir / key, (when, when))


def sweep_now(client: TestClient, now: datetime | None = None) -> SweepReport:
    return run_in_app(client, sweep, services_of(client), now)

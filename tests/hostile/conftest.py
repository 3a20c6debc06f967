"""Hostile-input tests run against the app with a fake peer, as the federation flow tests do."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.testclient import TestClient

from tests.conftest import run_in_app, services_of
from tests.fediverse.federation.conftest import client, peer, settings

__all__ = ["client", "count_rows", "peer", "settings"]


def count_rows(client: TestClient, model: Any) -> int:
    async def count() -> int:
        async with services_of(client).db.session() as session:
            return await session.scalar(select(func.count()).select_from(model)) or 0

    return run_in_app(client, count)

"""Fixtures for coming and going: the app with private addresses allowed (peers live on 127.0.0.1), two fake
remote servers, and helpers to import, export and run the account-jobs queue."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from starlette.testclient import TestClient

from fediverse.portability.csv_formats import import_type
from fediverse.portability.exports import export_csv, export_type
from fediverse.portability.imports import create_import
from storage.models import AccountJob, ImportRow
from tests.conftest import run_in_app, services_of
from tests.fediverse.federation.conftest import client, drain, other_peer, peer, query, settings

__all__ = ["client", "other_peer", "peer", "settings"]


def import_csv(client: TestClient, username: str, kind: str, text: str, *, overwrite: bool = False) -> AccountJob:
    """Store an import of ``text`` (a CSV) for ``username`` and let the worker run it to the end."""
    services = services_of(client)
    job = run_in_app(client, _create, services.db, username, kind, text.encode(), overwrite)
    drain(client)
    return job_row(client, job.id)


async def _create(db: Any, username: str, kind: str, data: bytes, overwrite: bool) -> AccountJob:
    return await create_import(db, username, import_type(kind), data, overwrite=overwrite)


def job_row(client: TestClient, job_id: int | None) -> AccountJob:
    return query(client, select(AccountJob).where(AccountJob.id == job_id))[0][0]


def rows_of(client: TestClient, job_id: int | None) -> dict[int, tuple[str, str | None]]:
    """Line number -> (state, reason) of an import's rows."""
    found = query(client, select(ImportRow).where(ImportRow.job_id == job_id).order_by(ImportRow.line))
    return {row.line: (row.state, row.reason) for (row,) in found}


def export(client: TestClient, username: str, kind: str) -> str:
    return run_in_app(client, export_csv, services_of(client).db, username, export_type(kind))

"""Long-lived resources shared by the web app, the worker and the CLI, opened and closed in one place.

Created by ``open_services`` inside the application's lifespan (or a CLI command), never at import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from fediverse import __version__
from fediverse.core.accounts import ensure_instance_actor
from fediverse.core.config import Settings
from fediverse.core.data_folder import create_data_folder
from fediverse.core.urls import Urls
from fediverse.federation.fetching import RemoteDocuments
from fediverse.federation.keys import KeyStore
from fediverse.federation.resolve import Resolver
from fediverse.federation.transports import client_tls
from fediverse.studio.context import Studio
from storage.db import Database
from storage.media import LocalMediaStore, MediaStore
from storage.models import Keypair

#: Mastodon's timeouts for remote requests (app/lib/request.rb): connect 5 s, read/write 10 s.
HTTP_TIMEOUT = httpx.Timeout(connect=5.0, read=10.0, write=10.0, pool=10.0)


def _no_wakeup(_queue: str | None = None) -> None:
    return None


async def _no_yield() -> None:
    return None


@dataclass
class Services:
    settings: Settings
    urls: Urls
    db: Database
    media: MediaStore
    http: httpx.AsyncClient
    instance_key: Keypair
    remote: RemoteDocuments
    resolver: Resolver
    keys: KeyStore
    #: Generation: options, the process's generator, C2PA credentials.
    studio: Studio
    #: Tells an in-process worker that new rows are due (set by the app's lifespan).
    wake_worker: Callable[[str | None], None] = field(default=_no_wakeup)
    #: Awaited by an in-process worker between items: returns once the inbox is quiet (bounded), so
    #: ingesting a burst goes before applying it (set by the app's lifespan).
    yield_to_requests: Callable[[], Awaitable[None]] = field(default=_no_yield)

    @property
    def user_agent(self) -> str:
        return user_agent(self.settings)


def user_agent(settings: Settings) -> str:
    return f"Reverie/{__version__} (+{settings.base_url}/)"


class SchemaOutdatedError(RuntimeError):
    """The database has not been migrated to this version's schema."""


@asynccontextmanager
async def open_services(settings: Settings, *, migrate: bool = False) -> AsyncIterator[Services]:
    """Open the database, media store and HTTP client; ``migrate`` upgrades the schema first."""
    create_data_folder(settings)
    db = Database(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        if migrate:
            await db.migrate()
        elif await db.current_revision() is None:
            raise SchemaOutdatedError("the database has no schema yet: run `reverie migrate` (or `reverie serve`)")
        urls = Urls(settings.base_url)
        instance_key = await ensure_instance_actor(db, urls)
        async with httpx.AsyncClient(
            timeout=HTTP_TIMEOUT,
            headers={"User-Agent": user_agent(settings)},
            follow_redirects=False,
            verify=client_tls(),
        ) as http:
            remote = RemoteDocuments(
                http,
                instance_key,
                allow_private=settings.allow_private_addresses,
                loopback_scheme=urlsplit(settings.base_url).scheme,
            )
            resolver = Resolver(db, urls, remote.fetch, remote.lookup_handle, remote.address_of)
            keys = KeyStore(db, resolver, fetch_deadline=settings.key_fetch_timeout_ms / 1000)
            try:
                yield Services(
                    settings=settings,
                    urls=urls,
                    db=db,
                    media=LocalMediaStore(settings.media_dir),
                    http=http,
                    instance_key=instance_key,
                    remote=remote,
                    resolver=resolver,
                    keys=keys,
                    studio=Studio(settings, http),
                )
            finally:
                await keys.aclose()
    finally:
        await db.dispose()

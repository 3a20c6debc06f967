"""Shared fixtures.

Every test that touches the database runs once on SQLite and, when ``REVERIE_TEST_POSTGRES_URL`` names
a PostgreSQL server (CI starts one), once more on PostgreSQL. Each test gets a fresh, migrated database
copied from a template, so tests never see each other's rows.

Accounts made inside the test process get a pre-made RSA key (``tests/keys.py``) and a cheap Argon2 hash;
real ``reverie`` processes keep production's. Both cost ~100 ms per account otherwise.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import socket
import uuid
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from argon2 import PasswordHasher
from hypothesis import settings as hypothesis_settings
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient
from xdist.scheduler import LoadScopeScheduling

import activitypub.fetch as fetch_module
from fediverse.core.accounts import create_account, use_key_pairs
from fediverse.core.config import Settings, load_settings
from fediverse.core.passwords import use_hasher
from fediverse.services import Services
from fediverse.web.app import create_app
from storage.db import Database
from storage.models import Account
from tests.keys import LOCAL_KEYS

T = TypeVar("T")

POSTGRES_URL_VARIABLE = "REVERIE_TEST_POSTGRES_URL"
TEST_BASE_URL = "http://127.0.0.1:8765"
#: Argon2id at its smallest (one pass over 8 KiB): the hashes stay real, verifiable Argon2id hashes.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

# Property tests assert what the code does, not how fast: Hypothesis's per-example deadline is a timing
# assert that fails on a busy machine, so it is off for the whole suite.
hypothesis_settings.register_profile("reverie", deadline=None)
hypothesis_settings.load_profile("reverie")


class _TestByTest(LoadScopeScheduling):
    """pytest-xdist's scheduling under ``-n``: each test goes to whichever worker is free, except those
    under ``SHARED_SETUP``, which go to one worker together (their module fixtures start real servers and
    a browser). xdist's own ``--dist loadgroup`` does not group on pytest 9, whose node ids it cannot edit."""

    SHARED_SETUP = ("tests/browser/",)

    def _split_scope(self, nodeid: str) -> str:
        return next((prefix for prefix in self.SHARED_SETUP if nodeid.startswith(prefix)), nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling:
    return _TestByTest(config, log)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def cheap_account_secrets() -> Iterator[None]:
    """In-process accounts take pre-made keys and cheap password hashes, for the whole session."""
    previous_hasher, previous_keys = use_hasher(CHEAP_HASHER), use_key_pairs(LOCAL_KEYS)
    yield
    use_hasher(previous_hasher)
    use_key_pairs(previous_keys)


@pytest.fixture(scope="session", autouse=True)
def only_loopback_names() -> Iterator[None]:
    """No test reaches beyond 127.0.0.1: a host name other than ``localhost`` does not resolve, so a URL a
    captured payload names (a CDN's) fails as an unknown host would, online or not. Tests of the address
    guard pass their own resolver."""
    real = fetch_module.resolve_host

    async def resolve_loopback_only(host: str, port: int) -> list[str]:
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            if host != "localhost":
                raise socket.gaierror(socket.EAI_NONAME, f"tests reach only 127.0.0.1, not {host}") from None
        return await real(host, port)

    fetch_module.resolve_host = resolve_loopback_only
    yield
    fetch_module.resolve_host = real


@pytest.fixture(autouse=True)
def distinct_keys_per_test(cheap_account_secrets: None) -> None:
    """Every test hands out the pool's keys from the start: distinct within the test."""
    LOCAL_KEYS.reset()


def _migrate(url: str) -> None:
    async def run() -> None:
        database = Database(url)
        await database.migrate()
        await database.dispose()

    asyncio.run(run())


class SqliteDatabases:
    """Fresh SQLite files copied from one migrated template."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.template = folder / "template.db"
        _migrate(f"sqlite:///{self.template}")

    def create(self) -> str:
        path = self.folder / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def cleanup(self) -> None:
        pass


class PostgresDatabases:
    """Fresh PostgreSQL databases created from a migrated template database."""

    def __init__(self, server_url: str) -> None:
        self.server_url = make_url(server_url)
        self.template = f"reverie_template_{os.getpid()}"
        self.created: list[str] = []
        self._admin(f'DROP DATABASE IF EXISTS "{self.template}"', f'CREATE DATABASE "{self.template}"')
        _migrate(self._url(self.template))

    def _url(self, name: str) -> str:
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    def _admin(self, *statements: str) -> None:
        asyncio.run(self._run_admin(statements))

    async def _run_admin(self, statements: Sequence[str], *, tolerate: bool = False) -> list[str]:
        """Run ``statements`` on the server's maintenance database; with ``tolerate``, return the ones
        the server refused instead of raising."""
        import asyncpg  # the test harness talks to the server directly

        refused: list[str] = []
        connection = await asyncpg.connect(self._url(self.server_url.database or "postgres"))
        try:
            for statement in statements:
                try:
                    await connection.execute(statement)
                except asyncpg.PostgresError:
                    if not tolerate:
                        raise
                    refused.append(statement)
        finally:
            await connection.close()
        return refused

    def create(self) -> str:
        name = f"reverie_test_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return self._url(name)

    def cleanup(self, *, final: bool = False) -> None:
        """Drop the databases made so far. Clean-up is not the test: a drop the server refuses (another
        session's connection, say) is tried again at the end of the session, then only warned about."""
        drops = {name: f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in self.created}
        refused = set(asyncio.run(self._run_admin(list(drops.values()), tolerate=True)))
        self.created = [name for name, drop in drops.items() if drop in refused]
        if final and self.created:
            warnings.warn(f"could not drop test databases: {', '.join(self.created)}", stacklevel=1)


@pytest.fixture(scope="session")
def sqlite_databases(tmp_path_factory: pytest.TempPathFactory) -> SqliteDatabases:
    return SqliteDatabases(tmp_path_factory.mktemp("databases"))


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    server_url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server_url:
        pytest.skip(f"set {POSTGRES_URL_VARIABLE} to run the PostgreSQL variant")
    databases = PostgresDatabases(server_url)
    yield databases
    databases.created.append(databases.template)
    databases.cleanup(final=True)


@pytest.fixture(params=["sqlite", "postgres"])
def database_factory(request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Makes fresh migrated databases (URL strings) on the parametrised backend."""
    fixture = "sqlite_databases" if request.param == "sqlite" else "postgres_databases"
    databases = request.getfixturevalue(fixture)
    yield databases.create
    databases.cleanup()


@pytest.fixture
def database_url(database_factory: Callable[[], str]) -> str:
    return database_factory()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(database_url: str, **environment: str) -> Settings:
        folder = tmp_path / uuid.uuid4().hex[:8]
        environ = {
            "REVERIE_BASE_URL": TEST_BASE_URL,
            "REVERIE_DATA_DIR": str(folder),
            "REVERIE_DATABASE_URL": database_url,
            "REVERIE_RUN_WORKER": "false",
            **environment,
        }
        return load_settings(environ)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The whole app with its lifespan running; the worker does not run by itself (tests drain it)."""
    with TestClient(create_app(settings), base_url=TEST_BASE_URL) as test_client:
        yield test_client


def run_in_app(client: TestClient, function: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run ``function(*args)`` on the app's event loop (where its database engine lives)."""
    assert client.portal is not None, "use the client as a context manager"
    return client.portal.call(function, *args)


def services_of(client: TestClient) -> Services:
    return client.app_state["services"]  # type: ignore[no-any-return]


@pytest.fixture
def make_user(client: TestClient) -> Callable[..., Account]:
    """Create a local account inside the running app: ``make_user("ana", password=..., is_admin=...)``."""

    def make(username: str, **options: Any) -> Account:
        services = services_of(client)

        async def create() -> Account:
            return await create_account(services.db, services.urls, username, **options)

        return run_in_app(client, create)

    return make

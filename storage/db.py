"""The database: one async engine over SQLite (WAL, the embedded default) or PostgreSQL.

SQLite runs in WAL mode with a busy timeout, and write transactions start with ``BEGIN IMMEDIATE``:
a deferred transaction that reads first and then writes cannot wait for the lock (SQLite answers
``SQLITE_BUSY`` at once), so every session that may write takes the write lock up front. Reads use
ordinary deferred transactions and never block on writers.

SQLite has one writer at a time, and a connection that finds the lock taken sleeps in its busy handler
(1, 2, 5 … 100 ms) before it looks again. Within one process, writers therefore take turns in an
asyncio queue first and meet the file lock only when another process holds it. The inbox's group commit
asks for *urgent* turns: peers are waiting for its ``202``, so it goes before the worker's transactions
(measured: without that, ingestion fell to a quarter while the worker drained; docs/benchmarks.md).

A unit of work (decision 0049): ``read(fn)`` and ``write(fn)`` run ``fn(session)``, plain synchronous
code over a synchronous ``Session``, in one trip to the database. On SQLite that is one hop to a small
pool of threads holding pysqlite connections to the same file (same PRAGMAs; writes take this process's
write turn first and begin ``IMMEDIATE``), instead of aiosqlite's hop per cursor operation. On PostgreSQL
it is ``AsyncSession.run_sync(fn)`` on one pooled asyncpg connection. The same ``fn`` serves both.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, Engine, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from storage.cache import Stamps
from storage.private_files import create_private_file, make_private_folders
from storage.types import serialize_json

if TYPE_CHECKING:  # Alembic loads only when there is something to migrate (docs/decisions/0053)
    from alembic.config import Config as AlembicConfig

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

#: How long a SQLite connection waits for another writer before giving up, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: Connections kept open per process on SQLite (as many again may be opened for a burst).
SQLITE_POOL_SIZE = 16

#: Threads (each with its pysqlite connection) that run units of work on SQLite: a few, for a 2-core box.
SQLITE_UNIT_THREADS = 4

T = TypeVar("T")

#: Arbitrary constant: PostgreSQL advisory lock held while migrating, so concurrent starts queue up.
_MIGRATION_LOCK_ID = 0x52455645  # "REVE"

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


#: What a query raises while the database is locked past the busy timeout, restarting, or unreachable:
#: the operation rolled back and may be retried shortly. (asyncpg's connection errors, which reach
#: SQLAlchemy's connect unwrapped, become ``OperationalError`` in ``_configure_postgresql``.)
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    ConnectionError,
)


class DatabaseURLError(ValueError):
    """The database URL cannot be used."""


def normalize_url(raw: str) -> URL:
    """Parse a database URL and pick the async driver (``sqlite://`` -> ``sqlite+aiosqlite://``)."""
    try:
        url = make_url(raw)
    except ArgumentError as error:
        raise DatabaseURLError(f"not a database URL: {raw!r}") from error
    if url.drivername == "postgres":  # Heroku-style alias
        url = url.set(drivername="postgresql")
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseURLError(f"unsupported database {backend!r}: use sqlite:// or postgresql://")
    if "+" not in url.drivername:
        url = url.set(drivername=_ASYNC_DRIVERS[url.drivername])
    elif url.drivername not in _ASYNC_DRIVERS.values():
        raise DatabaseURLError(f"unsupported driver {url.drivername!r}: use sqlite+aiosqlite or postgresql+asyncpg")
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        raise DatabaseURLError("SQLite needs a file path (in-memory databases are not shared between connections)")
    return url


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN, instead of the driver's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _configure_postgresql(engine: Engine) -> None:
    """Give asyncpg's own connection errors (the server refusing, starting up, shutting down; a connection
    lost) as ``OperationalError``, like every other unavailable database: SQLAlchemy wraps only what the
    driver adapter raises, and a failed connect reaches it raw. asyncpg is imported here, so a process on
    SQLite never loads it (decision 0053)."""
    import asyncpg

    away = (
        asyncpg.PostgresConnectionError,
        asyncpg.exceptions.OperatorInterventionError,
        asyncpg.exceptions.InterfaceError,
    )

    @event.listens_for(engine, "handle_error")
    def on_error(context: ExceptionContext) -> BaseException | None:
        error = context.original_exception
        if isinstance(error, away):
            return OperationalError(None, None, error)
        return None


class Database:
    """The engine and session factories. Created in the application's lifespan, never at import."""

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 5,
        echo: bool = False,
        busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
    ) -> None:
        self.url = normalize_url(str(url) if isinstance(url, str) else url.render_as_string(hide_password=False))
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        options: dict[str, Any] = {"echo": echo, "pool_pre_ping": not self.is_sqlite, "json_serializer": serialize_json}
        if self.is_sqlite:
            # Made 0600 before SQLite opens it: SQLite gives new files the default mode, and its -wal and
            # -shm files take the database's.
            database_file = Path(self.url.database or "")
            make_private_folders(database_file.parent)
            create_private_file(database_file)
            # Keep the connections a busy process uses: above the pool size one is closed on return and the
            # next is opened again (a thread and four PRAGMAs each). With the default 5 the inbox worker's
            # concurrent senders did that on nearly every item. A connection costs a thread and a handle.
            options.update(pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_SIZE)
        else:
            options.update(pool_size=pool_size, max_overflow=pool_size * 2)
        self.engine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine.sync_engine, busy_timeout_ms)
        else:
            _configure_postgresql(self.engine.sync_engine)
        writer = self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else self.engine
        #: Version stamps of the in-process caches (``storage.cache``); sessions carry them for ``bump``.
        self.stamps = Stamps(self.engine)
        info = {"stamps": self.stamps}
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False, info=info)
        self._writer = async_sessionmaker(writer, expire_on_commit=False, autoflush=False, info=info)
        self.writer_engine: AsyncEngine = writer
        self.busy_timeout_ms = busy_timeout_ms
        self._write_turns = WriteTurns() if self.is_sqlite else None
        # Units of work: on SQLite a synchronous engine over the same file, used from a few threads.
        self._threads: ThreadPoolExecutor | None = None
        if self.is_sqlite:
            self.unit_engine: Engine | None = create_engine(
                self.url.set(drivername="sqlite+pysqlite"),
                echo=echo,
                json_serializer=serialize_json,
                pool_size=SQLITE_UNIT_THREADS,
                max_overflow=SQLITE_UNIT_THREADS,
                connect_args={"check_same_thread": False},
            )
            _configure_sqlite(self.unit_engine, busy_timeout_ms)
            unit_writer = self.unit_engine.execution_options(sqlite_begin="IMMEDIATE")
            self._unit_reader = sessionmaker(self.unit_engine, expire_on_commit=False, autoflush=False)
            self._unit_writer = sessionmaker(unit_writer, expire_on_commit=False, autoflush=False)
            self._threads = ThreadPoolExecutor(SQLITE_UNIT_THREADS, thread_name_prefix="reverie-db")
        else:
            self.unit_engine = None

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    def session(self) -> AsyncSession:
        """A session for reading (deferred transaction). Use ``transaction()`` to write."""
        return self._reader()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction holds the write lock from the start; commits on success."""
        async with self._write_turn(), self._writer() as session, session.begin():
            yield session

    async def read(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one read transaction (one snapshot), in one trip, and return its result.

        ``fn`` is synchronous code: it must not await, and should do nothing slow but its queries (no
        network). ORM objects it returns are detached: load what the caller uses inside ``fn``."""
        if self._threads is None:
            async with self._reader() as session:
                return await session.run_sync(fn)
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._read_unit, fn)

    async def write(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one write transaction (committed when it returns, rolled back when it
        raises), in one trip. On SQLite it waits for this process's write turn like ``transaction()``."""
        if self._threads is None:
            async with self._writer() as session, session.begin():
                return await session.run_sync(fn)
        await self._take_write_turn(urgent=False)
        try:
            done = asyncio.get_running_loop().run_in_executor(self._threads, self._write_unit, fn)
        except BaseException:
            self._release_write_turn()
            raise
        # The turn is passed on when the thread is done, even if the caller stops waiting first.
        done.add_done_callback(lambda _: self._release_write_turn())
        return await asyncio.shield(done)

    def _read_unit(self, fn: Callable[[Session], T]) -> T:
        with self._unit_reader() as session:
            return fn(session)

    def _write_unit(self, fn: Callable[[Session], T]) -> T:
        with self._unit_writer() as session, session.begin():
            return fn(session)

    @asynccontextmanager
    async def write_connection(self, *, urgent: bool = False) -> AsyncIterator[AsyncConnection]:
        """A Core connection in a write transaction (as ``transaction()``), committed on success.
        ``urgent`` transactions go before waiting ordinary ones (on SQLite, within this process)."""
        async with self._write_turn(urgent=urgent), self.writer_engine.begin() as connection:
            yield connection

    @property
    def urgent_writer_waiting(self) -> bool:
        """Whether an urgent transaction of this process (the inbox's group commit) waits for the writer:
        a long write transaction should commit soon and let it go first. Always ``False`` on PostgreSQL.
        Safe to read from a unit of work's thread."""
        return self._write_turns is not None and self._write_turns.urgent_waiting

    @asynccontextmanager
    async def _write_turn(self, *, urgent: bool = False) -> AsyncIterator[None]:
        """On SQLite, wait for this process's other writers first (bounded like the busy timeout, so a
        transaction opened inside another fails instead of hanging)."""
        if self._write_turns is None:
            yield
            return
        await self._take_write_turn(urgent=urgent)
        try:
            yield
        finally:
            self._release_write_turn()

    async def _take_write_turn(self, *, urgent: bool) -> None:
        assert self._write_turns is not None
        try:
            async with asyncio.timeout(self.busy_timeout_ms / 1000):
                await self._write_turns.acquire(urgent=urgent)
        except TimeoutError as error:
            # What SQLite itself raises when its busy timeout passes: callers already treat it as "busy".
            raise OperationalError("waiting for this process's SQLite write turn", None, error) from error

    def _release_write_turn(self) -> None:
        assert self._write_turns is not None
        self._write_turns.release()

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (safe to call from several processes). A database
        already at the newest revision is left alone without loading Alembic (~10 MiB a process keeps)."""
        async with self.writer_engine.begin() as connection:
            if not self.is_sqlite:
                await connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            if head_revision() is None or await connection.run_sync(_stamped_revisions) != [head_revision()]:
                await connection.run_sync(_upgrade_to_head)

    async def current_revision(self) -> str | None:
        async with self.engine.connect() as connection:
            return await connection.run_sync(_current_revision)

    async def dispose(self) -> None:
        if self._threads is not None:
            threads, self._threads = self._threads, None
            await asyncio.get_running_loop().run_in_executor(None, threads.shutdown)
        if self.unit_engine is not None:
            self.unit_engine.dispose()
        await self.engine.dispose()


class WriteTurns:
    """A lock whose waiters are served first-come first-served, urgent ones before the others."""

    def __init__(self) -> None:
        self._held = False
        self._waiting: dict[bool, deque[asyncio.Future[None]]] = {True: deque(), False: deque()}

    @property
    def locked(self) -> bool:
        return self._held

    @property
    def urgent_waiting(self) -> bool:
        # Also read from a unit of work's thread (the inbox worker's, between chunks): copy the lane in one
        # step (C code, under the GIL) rather than iterate a deque the event loop may append to meanwhile.
        return any(not turn.done() for turn in tuple(self._waiting[True]))

    async def acquire(self, *, urgent: bool = False) -> None:
        if not self._held:
            self._held = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[urgent].append(turn)
        try:
            await turn
        except BaseException:
            if turn.done() and not turn.cancelled():
                self.release()  # the turn was handed over just as the waiter gave up: pass it on
            elif turn in self._waiting[urgent]:
                self._waiting[urgent].remove(turn)
            raise

    def release(self) -> None:
        for lane in (self._waiting[True], self._waiting[False]):
            while lane:
                turn = lane.popleft()
                if not turn.done():
                    turn.set_result(None)  # the lock stays held, now by that waiter
                    return
        self._held = False


#: The two lines of a revision file that chain it to its parent (``scripts/new_migration.py`` writes them).
_REVISION_LINE = re.compile(r'^revision(?:\s*:\s*str)?\s*=\s*"([^"]+)"\s*$', re.MULTILINE)
_PARENT_LINE = re.compile(r'^down_revision(?:\s*:[^=]*)?\s*=\s*(?:"([^"]+)"|None)\s*$', re.MULTILINE)


@cache
def head_revision() -> str | None:
    """The newest revision under ``migrations/versions``, read from the files' text so that an up-to-date
    database is recognised without loading Alembic; None when the text does not say plainly (several
    heads, a merge revision), and then Alembic decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, parent = _REVISION_LINE.findall(source), _PARENT_LINE.findall(source)
        if path.name == "__init__.py" and not revision:
            continue
        if len(revision) != 1 or len(parent) != 1:
            return None
        revisions.add(revision[0])
        if parent[0]:
            parents.add(parent[0])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _stamped_revisions(connection: Connection) -> list[str]:
    """The revisions recorded in the database's ``alembic_version`` table (none when it has no table)."""
    if not inspect(connection).has_table("alembic_version"):
        return []
    return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _upgrade_to_head(connection: Connection) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), "head")


def _current_revision(connection: Connection) -> str | None:
    stamped = _stamped_revisions(connection)
    if len(stamped) <= 1:
        return stamped[0] if stamped else None
    from alembic.runtime.migration import MigrationContext  # several heads: let Alembic say what that means

    return MigrationContext.configure(connection).get_current_revision()

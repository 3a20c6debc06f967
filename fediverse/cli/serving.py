"""``reverie serve``, ``reverie worker`` and ``reverie migrate``."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
import traceback
from typing import Any

import uvicorn
from sqlalchemy import func, select

from fediverse import __version__
from fediverse.core.config import DEFAULT_PORT, Settings, is_loopback_host, load_settings
from fediverse.core.data_folder import tighten_data_folder
from fediverse.core.errors import ReverieError
from fediverse.core.logs import configure_logging
from fediverse.core.metrics import MULTIPROCESS_VARIABLE, multiprocess_folder, prepare_multiprocess_folder
from fediverse.services import open_services
from fediverse.web.app import create_app
from fediverse.web.websocket_protocol import websocket_protocol
from fediverse.worker.queues import open_worker
from storage.db import Database
from storage.models import Account


def register(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="migrate the database, then run the web server and a background worker",
        description="Migrate the database, then serve the web app with an in-process worker.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on (default: %(default)s)")
    serve.add_argument(
        "--workers", type=int, default=1, metavar="N", help="web processes (PostgreSQL recommended for N > 1)"
    )
    serve.add_argument(
        "--no-worker", action="store_true", help="do not run background work here (run `reverie worker` instead)"
    )
    serve.set_defaults(handler=run_serve)

    worker = commands.add_parser(
        "worker",
        help="run background work only: deliveries, inbox processing, generation",
        description="Run the background worker without a web server. Any number may share one database.",
    )
    worker.set_defaults(handler=run_worker)

    migrate = commands.add_parser("migrate", help="bring the database schema up to date and exit")
    migrate.set_defaults(handler=run_migrate)


def _default_base_url(host: str, port: int) -> str:
    """Without ``REVERIE_BASE_URL``, the instance calls itself by the loopback address it listens on."""
    listen = host if is_loopback_host(host) else "127.0.0.1"
    return f"http://{listen}:{port}"


def _prepare(settings: Settings, *, migrate_in_child: bool = False) -> int:
    """Make the data folder private, migrate, create the instance actor, and count the accounts (for the
    welcome message). With ``migrate_in_child``, a forked child runs the migration (see below)."""
    tighten_data_folder(settings)
    if migrate_in_child:
        _migrate_in_child(settings)
    return asyncio.run(_open_and_count(settings))


def _migrate_in_child(settings: Settings) -> None:
    """Bring the schema up to date in a forked copy of this process that exits afterwards.

    Alembic and the migration scripts stay in a process's memory once loaded (~10 MiB), so the process
    that will serve for weeks leaves them to a child (docs/decisions/0053). Nothing is open yet to be
    shared: no thread, no connection. Where ``fork`` is missing, or a thread already runs, the server
    migrates in process, as ``open_services(migrate=True)`` does anyway when the schema is behind."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's coverage is the parent's exit status
        status = 1
        try:
            asyncio.run(_migrate(settings))
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(status)
    _, wait_status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(wait_status) != 0:
        raise ReverieError("the database could not be migrated (the reason is above)")


async def _migrate(settings: Settings) -> None:
    db = Database(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        await db.migrate()
    finally:
        await db.dispose()


async def _open_and_count(settings: Settings) -> int:
    async with open_services(settings, migrate=True) as services, services.db.session() as session:
        services.studio.generator  # noqa: B018 - build it now: a bad generator setting stops start-up here
        return await session.scalar(select(func.count()).select_from(Account)) or 0


def _print_banner(settings: Settings, accounts: int, listen: str) -> None:
    print(f"Reverie {__version__} is starting at {settings.base_url}  (listening on {listen})")
    print(f"  data folder: {settings.data_dir}")
    print(f"  database:    {settings.database_url.split('@')[-1]}")
    if accounts == 0:
        print(f"  No accounts yet. Open {settings.base_url}/setup in a browser to create the admin account,")
        print("  or run:  reverie user create NAME --admin")
    print(flush=True)


def run_serve(arguments: argparse.Namespace) -> int:
    settings = load_settings(default_base_url=_default_base_url(arguments.host, arguments.port))
    configure_logging(settings.log_level, settings.log_format)
    if arguments.no_worker:
        settings = settings.with_changes(run_worker=False)
    accounts = _prepare(settings, migrate_in_child=True)
    _print_banner(settings, accounts, f"{arguments.host}:{arguments.port}")
    options: dict[str, Any] = {
        "host": arguments.host,
        "port": arguments.port,
        "log_level": settings.log_level,
        "log_config": None,  # our handlers and format (fediverse.core.logs), set up above
        "access_log": False,  # each request is logged once, by fediverse.web.operations
        # X-Forwarded-For and X-Forwarded-Proto are believed from the reverse proxy only (docs/deploy.md).
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies),
        "server_header": False,
        "timeout_graceful_shutdown": 10,
        # The streaming API's WebSocket (decision 0057), loaded when the first one connects (decision 0053).
        "ws": websocket_protocol,
        "ws_max_size": 64 * 1024,
    }
    if arguments.workers > 1:
        # Each web process reads its settings from the environment, so pass on what the flags decided.
        os.environ["REVERIE_BASE_URL"] = settings.base_url
        os.environ["REVERIE_DATA_DIR"] = str(settings.data_dir)
        os.environ["REVERIE_DATABASE_URL"] = settings.database_url
        os.environ["REVERIE_RUN_WORKER"] = "true" if settings.run_worker else "false"
        # The web processes are started afresh and read this before importing prometheus-client: their
        # counters go to files there, and /metrics adds up every process's (docs/decisions/0055).
        os.environ.setdefault(MULTIPROCESS_VARIABLE, str(settings.data_dir / "metrics"))
    if folder := multiprocess_folder():
        prepare_multiprocess_folder(folder)
    if arguments.workers > 1:
        uvicorn.run("fediverse.web.app:create_app_from_env", factory=True, workers=arguments.workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)
    return 0


async def _run_worker_until_signalled(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with open_services(settings) as services:
        print(f"Reverie worker {__version__} for {settings.base_url} is running (Ctrl-C to stop)", flush=True)
        async with open_worker(services) as worker:
            services.wake_worker = worker.wake
            await worker.run_forever(stop)


def run_worker(_arguments: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    tighten_data_folder(settings)
    if folder := multiprocess_folder():  # shared with `reverie serve`, whose /metrics shows these counters
        prepare_multiprocess_folder(folder)
    asyncio.run(_run_worker_until_signalled(settings))
    return 0


def run_migrate(_arguments: argparse.Namespace) -> int:
    settings = load_settings()
    _prepare(settings)
    print(f"Database is up to date: {settings.database_url.split('@')[-1]}")
    return 0

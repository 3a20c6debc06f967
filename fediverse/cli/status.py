"""``reverie status``: the Health page in a terminal (``fediverse.reads.health``)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from fediverse import __version__
from fediverse.core.config import Settings, load_settings
from fediverse.reads.health import HealthReport, collect_health, describe_age, describe_bytes
from storage.db import Database


def register(commands: Any) -> None:
    command = commands.add_parser(
        "status",
        help="show the instance's health: database, schema, queues, failing hosts, media on disk",
        description=(
            "Print what the admin Health page shows: whether the database answers and its schema is "
            "current, each work queue's backlog and oldest due item, the hosts deliveries keep failing "
            "to reach, and the disk the media take. Exits 1 when a check fails (like GET /healthz's 503)."
        ),
    )
    command.add_argument("--json", action="store_true", help="print the checks as /healthz's JSON instead")
    command.set_defaults(handler=run_status)


async def _collect(settings: Settings) -> HealthReport:
    # The database alone (not open_services): status must also work when the schema is missing or old.
    database = Database(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        return await collect_health(database, settings.media_dir, media_max_age=0)
    finally:
        await database.dispose()


def run_status(arguments: argparse.Namespace) -> int:
    settings = load_settings()
    report = asyncio.run(_collect(settings))
    if arguments.json:
        print(json.dumps(report.liveness.as_json(), indent=2))
    else:
        print("\n".join(format_report(report, settings)))
    return 0 if report.ok else 1


def format_report(report: HealthReport, settings: Settings) -> list[str]:
    live = report.liveness
    lines = [
        f"Reverie {__version__} at {settings.base_url}: {'healthy' if report.ok else 'FAILING'}",
        f"  database:     {'ok' if live.database.ok else 'FAILING'} - {live.database.detail}",
        f"  schema:       {'ok' if live.migrations.ok else 'FAILING'} - {live.migrations.detail}",
        f"  media:        {describe_bytes(report.media.bytes)} in {report.media.files} files",
        "",
    ]
    if report.queues:
        lines.append(f"  {'queue':<16}{'waiting':>9}{'due':>9}{'working':>9}  oldest due")
        for queue in report.queues:
            lines.append(
                f"  {queue.title:<16}{queue.waiting:>9}{queue.due:>9}{queue.in_progress:>9}"
                f"  {describe_age(queue.oldest_due_seconds)}"
            )
        lines.append("")
    if report.failing_hosts:
        lines.append(f"  failing hosts: {report.failing_hosts_total}")
        for host in report.failing_hosts:
            line = f"    {host.host}: {host.consecutive_failures} failures in a row"
            if host.failing_since is not None:
                line += f", failing for {describe_age((report.checked_at - host.failing_since).total_seconds())}"
            lines.append(line)
    elif report.queues:
        lines.append("  failing hosts: none")
    return lines

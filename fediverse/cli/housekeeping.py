"""``reverie housekeeping``: one sweep now (the worker runs the same sweep every few minutes); ``reverie
recount``: the counter columns checked against the rows they count (decision 0052)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from fediverse.core.config import load_settings
from fediverse.housekeeping.sweep import SweepReport, sweep
from fediverse.services import open_services
from storage.counters import Miscount, recount


def register(commands: Any) -> None:
    command = commands.add_parser(
        "housekeeping",
        help="remove expired drafts, unused media files and old deletion markers now",
        description=(
            "Run one housekeeping sweep now and print what it removed: unpublished images older than "
            "REVERIE_DRAFT_RETENTION_HOURS, media files no post or draft uses, and markers of remote "
            "deletes older than 30 days. Workers do this by themselves every 15 minutes."
        ),
    )
    command.set_defaults(handler=run_housekeeping)
    check = commands.add_parser(
        "recount",
        help="check the stored counts (posts, followers, likes, ...) against the rows they count",
        description=(
            "Count every actor's posts, followers and following and every post's likes, boosts and replies "
            "from their rows, and list the stored counters that differ (the database keeps them itself, so "
            "none should). With --fix, set those to the count. Exits 1 when some differed and were not fixed."
        ),
    )
    check.add_argument("--fix", action="store_true", help="set the counters that differ to the count")
    check.set_defaults(handler=run_recount)


async def _sweep_once() -> SweepReport:
    async with open_services(load_settings()) as services:
        return await sweep(services)


def run_housekeeping(_arguments: argparse.Namespace) -> int:
    report = asyncio.run(_sweep_once())
    print(f"Housekeeping {report.describe()}.")
    return 0


async def _recount(fix: bool) -> list[Miscount]:
    async with open_services(load_settings()) as services, services.db.transaction() as session:
        return await recount(session, fix=fix)


def run_recount(arguments: argparse.Namespace) -> int:
    found = asyncio.run(_recount(arguments.fix))
    for item in found:
        print(f"{item.table} {item.row_id} {item.column}: stored {item.stored}, counted {item.counted}")
    verb = "set right" if arguments.fix else "differ"
    print(f"Recount: {len(found)} counter(s) {verb}." if found else "Recount: every counter matches its rows.")
    return 1 if found and not arguments.fix else 0

"""``reverie housekeeping``: one sweep now (the worker runs the same sweep every few minutes)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from fediverse.core.config import load_settings
from fediverse.housekeeping.sweep import SweepReport, sweep
from fediverse.services import open_services


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


async def _sweep_once() -> SweepReport:
    async with open_services(load_settings()) as services:
        return await sweep(services)


def run_housekeeping(_arguments: argparse.Namespace) -> int:
    report = asyncio.run(_sweep_once())
    print(f"Housekeeping {report.describe()}.")
    return 0

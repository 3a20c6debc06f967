"""The ``reverie`` command. Each subcommand lives in its own module with a ``register(subparsers)``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from fediverse import __version__
from fediverse.cli import (
    backup,
    housekeeping,
    moving,
    portability,
    posting,
    serving,
    social,
    status,
    users,
)
from fediverse.core.config import ConfigError
from fediverse.core.data_folder import keep_new_files_private
from fediverse.core.errors import ReverieError

DESCRIPTION = """\
Reverie: a self-hosted, federated home for AI-generated images and moods.

Configuration comes from environment variables (REVERIE_BASE_URL, REVERIE_DATA_DIR,
REVERIE_DATABASE_URL, REVERIE_GENERATOR, ...); see README.md.
"""

EPILOG = """\
examples:
  reverie serve                          start on http://127.0.0.1:8000 with SQLite in ./reverie-data
  reverie user create ana --admin        create the first account (asks for a password)
  REVERIE_BASE_URL=https://ana.example reverie serve --host 0.0.0.0
  reverie worker                         run only background workers (several may share a database)
  reverie post ana --prompt "misty mountains at dawn" --mood "🌄 calm"   paint and publish
  reverie housekeeping                   remove expired drafts and unused files now
  reverie status                         queues, failing hosts, database and schema at a glance
  reverie import ana following following_accounts.csv    follow what a Mastodon export lists
  reverie export ana following > following.csv           the same format, out
  reverie archive ana ana.zip            everything ana posted, in Mastodon's archive layout
  reverie alias add ana @ana@mastodon.example   let a Mastodon account move to ana
  reverie backup reverie-2026-01-31.db   a consistent copy of the SQLite database, while it runs
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reverie",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"reverie {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in (serving, users, social, moving, posting, portability, housekeeping, status, backup):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    keep_new_files_private()  # everything a command creates (database, media, keys) is for this user alone
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        result: int = arguments.handler(arguments)
        return result
    except ConfigError as error:
        print(f"reverie: configuration error: {error}", file=sys.stderr)
        return 2
    except ReverieError as error:
        print(f"reverie: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

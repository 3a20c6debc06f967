"""``reverie import|export|archive`` and ``reverie account delete|suspend|unsuspend``: coming and going from a
terminal (decision 0060).

``import`` and ``account delete`` do their work here and wait for it (a running worker would otherwise take
it up); what they send to other servers is queued for the worker of ``reverie serve`` or ``reverie worker``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from fediverse.core.config import load_settings
from fediverse.core.errors import BadRequest
from fediverse.portability.archives import write_archive
from fediverse.portability.csv_formats import MAX_FILE_BYTES, import_type
from fediverse.portability.deletion import delete_account, suspend_account, unsuspend_account
from fediverse.portability.exports import ExportType, export_csv, export_type
from fediverse.portability.imports import create_import
from fediverse.portability.jobs import run_here
from fediverse.services import open_services
from storage.models import AccountJob, ImportRow, ImportRowState, ImportType

IMPORT_TYPES = [kind.value for kind in ImportType]
EXPORT_TYPES = [kind.value for kind in ExportType]


def register(commands: Any) -> None:
    imports = commands.add_parser(
        "import",
        help="import a Mastodon-format CSV (follows, blocks, mutes, domain blocks, bookmarks) into an account",
        description="Import a CSV exported from Mastodon (or any server that writes its formats) into a local "
        "account. Accounts are looked up on their servers; lines that cannot be used are skipped and listed "
        "with the reason. Importing the same file again changes nothing.",
    )
    imports.add_argument("name", help="the local account")
    imports.add_argument("type", choices=IMPORT_TYPES, metavar="TYPE", help=" | ".join(IMPORT_TYPES))
    imports.add_argument("file", type=Path, metavar="FILE.csv")
    imports.add_argument("--overwrite", action="store_true", help="remove what the account has and the file lacks")
    imports.set_defaults(handler=run_import)

    exports = commands.add_parser(
        "export",
        help="write one of an account's lists as Mastodon-format CSV to standard output",
        description="Write one of a local account's lists as CSV (Mastodon's format) to standard output.",
    )
    exports.add_argument("name", help="the local account")
    exports.add_argument("type", choices=EXPORT_TYPES, metavar="TYPE", help=" | ".join(EXPORT_TYPES))
    exports.set_defaults(handler=run_export)

    archive = commands.add_parser(
        "archive",
        help="write an archive of everything an account posted (Mastodon's layout) to a zip file",
        description="Write a zip of an account's posts (outbox.json), pictures, likes, bookmarks and actor.",
    )
    archive.add_argument("name", help="the local account")
    archive.add_argument("file", type=Path, metavar="FILE.zip")
    archive.set_defaults(handler=run_archive)

    account = commands.add_parser(
        "account", help="delete, suspend or unsuspend a local account", description="Delete or suspend accounts."
    )
    actions = account.add_subparsers(title="actions", metavar="ACTION", required=True)
    delete = actions.add_parser(
        "delete",
        help="delete an account for good (its servers are told; the username stays reserved)",
        description="Delete a local account: Delete is sent to every server that knows it, its posts and "
        "pictures are removed here, its sessions end, and the username can never be registered again.",
    )
    delete.add_argument("name")
    delete.add_argument("--yes", action="store_true", help="do not ask to type the name to confirm")
    delete.set_defaults(handler=run_delete)
    for name, handler, text in (
        ("suspend", run_suspend, "stop an account signing in and hide it from other servers"),
        ("unsuspend", run_unsuspend, "lift a suspension"),
    ):
        parser = actions.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        parser.add_argument("name")
        parser.set_defaults(handler=handler)


def run_import(arguments: argparse.Namespace) -> int:
    path: Path = arguments.file
    if not path.is_file():
        raise BadRequest(f"No file {path}.")
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    kind = import_type(arguments.type)

    async def work() -> tuple[AccountJob, list[ImportRow]]:
        async with open_services(load_settings()) as services:
            job = await create_import(
                services.db, arguments.name, kind, data, filename=path.name, overwrite=arguments.overwrite
            )
            assert job.id is not None
            finished = await run_here(services, job.id, on_step=_progress)
            async with services.db.session() as session:
                skipped = list(
                    await session.scalars(
                        select(ImportRow)
                        .where(col(ImportRow.job_id) == job.id, col(ImportRow.state) == ImportRowState.SKIPPED)
                        .order_by(col(ImportRow.line))
                    )
                )
            return finished, skipped

    job, skipped = asyncio.run(work())
    for row in skipped:
        named = row.data.get("acct") or row.data.get("domain") or row.data.get("uri") or ""
        print(f"line {row.line}: {named}: skipped: {row.reason}")
    print(
        f"@{arguments.name}: {kind.value} import {job.state}: {job.imported_items} imported, "
        f"{job.skipped_items} skipped of {job.total_items}; deliveries are queued for the worker"
    )
    return 0 if job.state == "succeeded" else 1


def _progress(job: AccountJob) -> None:
    if sys.stderr.isatty():
        print(f"\r{job.processed_items}/{job.total_items}", end="", file=sys.stderr, flush=True)


def run_export(arguments: argparse.Namespace) -> int:
    async def work() -> str:
        async with open_services(load_settings()) as services:
            return await export_csv(services.db, arguments.name, export_type(arguments.type))

    sys.stdout.write(asyncio.run(work()))
    return 0


def run_archive(arguments: argparse.Namespace) -> int:
    destination: Path = arguments.file.expanduser().resolve()

    async def work() -> str:
        async with open_services(load_settings()) as services:
            summary = await write_archive(services, arguments.name, destination)
        megabytes = summary.size_bytes / (1024 * 1024)
        return (
            f"{destination}: {summary.posts} posts, {summary.boosts} boosts, {summary.media_files} pictures "
            f"({megabytes:.1f} MB)"
        )

    print(asyncio.run(work()))
    return 0


def run_delete(arguments: argparse.Namespace) -> int:
    name = arguments.name
    if not arguments.yes:
        if not sys.stdin.isatty():
            raise BadRequest("No terminal to confirm on: add --yes to delete without asking.")
        if input(f"Type {name} to delete @{name} for good: ").strip() != name:
            print("Nothing was deleted.")
            return 1

    async def work() -> tuple[int, AccountJob]:
        async with open_services(load_settings()) as services:
            deletion = await delete_account(services, name)
            return deletion.inboxes, await run_here(services, deletion.job_id)

    inboxes, job = asyncio.run(work())
    print(
        f"@{name} is deleted: its posts and pictures are removed, the username stays reserved; "
        f"Delete is queued for {inboxes} inbox(es), which the worker sends"
    )
    return 0 if job.state == "succeeded" else 1


def run_suspend(arguments: argparse.Namespace) -> int:
    asyncio.run(_with_db(suspend_account, arguments.name))
    print(f"@{arguments.name} is suspended: signed out everywhere, cannot sign in, gone to other servers")
    return 0


def run_unsuspend(arguments: argparse.Namespace) -> int:
    asyncio.run(_with_db(unsuspend_account, arguments.name))
    print(f"@{arguments.name} is no longer suspended")
    return 0


async def _with_db(action: Any, name: str) -> None:
    async with open_services(load_settings()) as services:
        await action(services.db, name)

"""``reverie alias add|remove|list`` and ``reverie move``: moving accounts from a terminal (decision 0061).

``alias add NAME @old@host`` lists an account that NAME moves from (resolved through WebFinger), so a
``Move`` from it to NAME is believed; ``move NAME @new@host`` moves NAME to an account that lists it as
an alias. The changes and their deliveries are stored at once; a running ``reverie serve`` or ``reverie
worker`` sends them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from activitypub.errors import ActivityPubError
from fediverse.core.config import load_settings
from fediverse.services import Services, open_services
from fediverse.social import actions


def register(commands: Any) -> None:
    alias = commands.add_parser(
        "alias",
        help="list the accounts an account moves from (alsoKnownAs)",
        description="Manage an account's aliases: the accounts it moves from, so their Move to it is believed.",
    )
    alias_actions = alias.add_subparsers(title="actions", metavar="ACTION", required=True)
    add = alias_actions.add_parser("add", help="add an alias: @user@host of the old account")
    add.add_argument("name", help="the local account")
    add.add_argument("handle", metavar="HANDLE", help="@user@host (or an actor URL) of the old account")
    add.set_defaults(handler=run_add)
    remove = alias_actions.add_parser("remove", help="remove an alias")
    remove.add_argument("name", help="the local account")
    remove.add_argument("handle", metavar="HANDLE", help="@user@host (or the actor URL) of the alias")
    remove.set_defaults(handler=run_remove)
    listing = alias_actions.add_parser("list", help="list an account's aliases")
    listing.add_argument("name", help="the local account")
    listing.set_defaults(handler=run_list)

    move = commands.add_parser(
        "move",
        help="move an account to another (on any server); followers follow the new one",
        description="Move a local account to another account, which must list it as an alias first. "
        "Its followers' servers get a Move; the old account then points to the new one and posts no more.",
    )
    move.add_argument("name", help="the local account that moves")
    move.add_argument("handle", metavar="HANDLE", help="@user@host (or an actor URL) of the new account")
    move.set_defaults(handler=run_move)


def _run(work: Callable[[Services], Awaitable[str]]) -> int:
    """Run ``work`` with the services open and print what it says; a remote lookup that fails is a plain
    error message (the application's own errors are printed by ``fediverse.cli.main``)."""

    async def act() -> str:
        async with open_services(load_settings()) as services:
            return await work(services)

    try:
        message = asyncio.run(act())
    except ActivityPubError as error:
        print(f"reverie: that account could not be looked up: {error}", file=sys.stderr)
        return 1
    if message:
        print(message)
    return 0


def _handle(actor: Any) -> str:
    return f"@{actor.username}@{actor.domain}"


def run_add(arguments: argparse.Namespace) -> int:
    async def work(services: Services) -> str:
        alias = await actions.add_alias(services, arguments.name, arguments.handle)
        return f"@{arguments.name}: alias {_handle(alias)} ({alias.ap_id}) added"

    return _run(work)


def run_remove(arguments: argparse.Namespace) -> int:
    async def work(services: Services) -> str:
        removed = await actions.remove_alias(services, arguments.name, arguments.handle)
        return f"@{arguments.name}: alias {removed} removed"

    return _run(work)


def run_list(arguments: argparse.Namespace) -> int:
    async def work(services: Services) -> str:
        aliases = await actions.list_aliases(services, arguments.name)
        return "\n".join(f"{_handle(known) if known else '-'}\t{alias_id}" for alias_id, known in aliases)

    return _run(work)


def run_move(arguments: argparse.Namespace) -> int:
    async def work(services: Services) -> str:
        target = await actions.move_account(services, arguments.name, arguments.handle)
        return (
            f"@{arguments.name}: moved to {_handle(target)} — done; the Move to its followers' servers is "
            "queued for the worker"
        )

    return _run(work)

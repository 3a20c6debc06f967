"""``reverie user create|password|list``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from sqlalchemy import select

from fediverse.core.accounts import change_password, create_account, validate_username
from fediverse.core.config import load_settings
from fediverse.core.errors import BadRequest
from fediverse.core.passwords import password_problem
from fediverse.services import open_services
from storage.models import Account


def register(commands: Any) -> None:
    user = commands.add_parser("user", help="manage local accounts", description="Manage local accounts.")
    actions = user.add_subparsers(title="actions", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="create an account", description="Create a local account.")
    create.add_argument("name", help="username: 1-30 lowercase letters, digits or _")
    create.add_argument("--admin", action="store_true", help="make the account an administrator")
    create.add_argument("--display-name", default="", help="the name shown on the profile")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of standard input"
    )
    create.add_argument("--no-password", action="store_true", help="create without a password (no web sign-in)")
    create.set_defaults(handler=run_create)

    password = actions.add_parser(
        "password", help="set an account's password", description="Set an account's password and sign out its browsers."
    )
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    password.set_defaults(handler=run_password)

    listing = actions.add_parser("list", help="list local accounts")
    listing.set_defaults(handler=run_list)


def read_password(from_stdin: bool) -> str:
    """The new password, from stdin or asked twice on the terminal."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise BadRequest("The passwords do not match.")
    else:
        raise BadRequest("No terminal to ask for a password: use --password-stdin or --no-password.")
    if problem := password_problem(password):
        raise BadRequest(problem)
    return password


def run_create(arguments: argparse.Namespace) -> int:
    name = validate_username(arguments.name)
    password = None if arguments.no_password else read_password(arguments.password_stdin)
    settings = load_settings()

    async def create() -> None:
        async with open_services(settings, migrate=True) as services:
            await create_account(
                services.db,
                services.urls,
                name,
                password=password,
                is_admin=arguments.admin,
                display_name=arguments.display_name,
            )

    asyncio.run(create())
    role = "admin account" if arguments.admin else "account"
    print(f"Created {role} @{name}@{settings.host}: {settings.base_url}/@{name}")
    return 0


def run_password(arguments: argparse.Namespace) -> int:
    password = read_password(arguments.password_stdin)

    async def change() -> None:
        async with open_services(load_settings()) as services:
            await change_password(services.db, arguments.name, password)

    asyncio.run(change())
    print(f"Password changed for @{arguments.name}; its browsers are signed out")
    return 0


def run_list(_arguments: argparse.Namespace) -> int:
    async def fetch() -> list[Account]:
        async with open_services(load_settings()) as services, services.db.session() as session:
            return list(await session.scalars(select(Account).order_by(Account.username)))

    for account in asyncio.run(fetch()):
        flags = " (admin)" if account.is_admin else ""
        print(f"{account.username}{flags}")
    return 0

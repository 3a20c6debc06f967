"""``reverie follow|unfollow|like|unlike|boost|unboost|block|unblock|mute|unmute``: act as a local account
from a terminal.

The change and its deliveries are stored at once; a running ``reverie serve`` or ``reverie worker``
sends them (its worker polls the database every second).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fediverse.core.config import load_settings
from fediverse.services import Services, open_services
from fediverse.social import actions

Action = Callable[[Services, str, str], Awaitable[object]]

COMMANDS: dict[str, tuple[Action, str, str]] = {
    "follow": (actions.follow, "HANDLE", "follow @user@host (or a local name, or an actor URL)"),
    "unfollow": (actions.unfollow, "HANDLE", "stop following an account"),
    "like": (actions.like, "POST", "like a post (its URL or id)"),
    "unlike": (actions.unlike, "POST", "take a like back"),
    "boost": (actions.boost, "POST", "boost a public post to your followers"),
    "unboost": (actions.unboost, "POST", "take a boost back"),
    "block": (actions.block, "HANDLE", "block an account: follows end both ways, their server is told"),
    "unblock": (actions.unblock, "HANDLE", "lift a block"),
    "mute": (actions.mute, "HANDLE", "hide an account's posts, boosts and notifications (they are not told)"),
    "unmute": (actions.unmute, "HANDLE", "lift a mute"),
}


def register(commands: Any) -> None:
    for name, (action, target, help_text) in COMMANDS.items():
        parser = commands.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        parser.add_argument("name", help="the local account acting")
        parser.add_argument("target", metavar=target)
        parser.set_defaults(handler=_runner(name, action))


def _runner(name: str, action: Action) -> Callable[[argparse.Namespace], int]:
    def run(arguments: argparse.Namespace) -> int:
        async def act() -> None:
            async with open_services(load_settings()) as services:
                await action(services, arguments.name, arguments.target)

        asyncio.run(act())
        print(f"@{arguments.name}: {name} {arguments.target} — done; deliveries are queued for the worker")
        return 0

    return run

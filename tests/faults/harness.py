"""What the fault tests share: an instance whose author has followers on a sink's ports, publishing from
a separate process, and bounded waits on real processes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.processes import free_port, reverie_env
from tests.seeding import create_user_with_followers
from tests.sink import Sink

PUBLISH = """
import asyncio, sys
from fediverse.social import actions
from fediverse.core.config import load_settings
from fediverse.services import open_services
from fediverse.social.posts import PostDraft

async def main():
    async with open_services(load_settings()) as services:
        post = await actions.publish(services, sys.argv[1], PostDraft(caption=sys.argv[2]))
        print(post.ap_id)

asyncio.run(main())
"""


@dataclass(frozen=True)
class FanoutInstance:
    """An instance (not yet running) whose ``ana`` is followed from every port of a sink."""

    port: int
    env: dict[str, str]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def publish(self, caption: str, username: str = "ana") -> str:
        """Publish from a separate process (as a second web process would); returns the note id."""
        result = subprocess.run(
            [sys.executable, "-c", PUBLISH, username, caption],
            env=reverie_env(self.env),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout.strip().splitlines()[-1]


def prepare_fanout(tmp_path: Path, database_url: str, sink: Sink, **environment: str) -> FanoutInstance:
    port = free_port()
    instance = FanoutInstance(
        port=port,
        env={
            "REVERIE_BASE_URL": f"http://127.0.0.1:{port}",
            "REVERIE_DATA_DIR": str(tmp_path / "data"),
            "REVERIE_DATABASE_URL": database_url,
            "REVERIE_ALLOW_PRIVATE_ADDRESSES": "true",
            **environment,
        },
    )
    create_user_with_followers(database_url, instance.base_url, "ana", [sink.inbox_url(p) for p in sink.ports])
    return instance


def wait_for(condition: Callable[[], object], *, timeout: float, what: str) -> None:
    """Poll ``condition`` until it is true (real processes only; bounded)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)

"""toot, the Mastodon command-line client, run as a person runs it: `toot login` in a terminal (it prints a
URL, the person approves in a browser and pastes the out-of-band code back), then posting with an image,
reading timelines, favouriting, boosting, following someone on another instance and deleting."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.clients.conftest import Instance, approve, png_bytes
from tests.processes import eventually

pytestmark = pytest.mark.slow


class Toot:
    """The ``toot`` command with its own configuration folder."""

    def __init__(self, config_home: Path) -> None:
        self.env = {**os.environ, "XDG_CONFIG_HOME": str(config_home), "NO_COLOR": "1"}
        self.env.pop("TOOT_TESTING", None)

    def command(self, *arguments: str) -> list[str]:
        return [sys.executable, "-c", "from toot.cli import cli; cli()", *arguments]

    def run(self, *arguments: str) -> str:
        result = subprocess.run(self.command(*arguments), env=self.env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def json(self, *arguments: str) -> dict[str, object]:
        return json.loads(self.run(*arguments, "--json"))  # type: ignore[no-any-return]

    def statuses(self, *arguments: str) -> list[dict[str, Any]]:
        """A timeline as toot prints it with ``--json`` (no pager, no screen clearing)."""
        printed = self.run(*arguments, "--json", "--no-pager", "--no-clear")
        return json.loads(printed)  # type: ignore[no-any-return]

    def ids(self, *arguments: str) -> list[str]:
        return [str(status["id"]) for status in self.statuses(*arguments)]

    def login(self, instance: Instance, username: str) -> None:
        """``toot login``: read the URL it prints, approve it in a 'browser', type the code it asks for."""
        process = subprocess.Popen(
            self.command("login", "--instance", instance.base_url),
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None and process.stdin is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith(instance.base_url + "/oauth/authorize"):
                url = line.strip()
                break
        else:
            raise AssertionError("toot printed no login URL:\n" + "".join(seen))
        code = approve(instance, username, url)
        output, _ = process.communicate(f"n\n{code}\n", timeout=60)
        assert process.returncode == 0, "".join(seen) + output
        assert "Successfully logged in" in output


def test_a_whole_session_with_toot(instances: tuple[Instance, Instance], tmp_path: Path) -> None:
    a, b = instances
    toot = Toot(tmp_path / "config")
    toot.login(a, "ana")
    assert re.search(r"@ana\b", toot.run("whoami"))

    image = tmp_path / "harbour.png"
    image.write_bytes(png_bytes((200, 120, 40)))
    posted = toot.json("post", "an orange dusk", "--media", str(image), "--description", "an orange rectangle")
    status_id = str(posted["id"])
    attachment = posted["media_attachments"][0]  # type: ignore[index]
    assert attachment["description"] == "an orange rectangle" and attachment["url"]
    assert status_id in toot.ids("timelines", "home")
    assert status_id in toot.ids("timelines", "public", "--local")

    assert toot.json("favourite", status_id)["favourited"] is True
    assert toot.json("reblog", status_id)["reblogged"] is True

    toot.run("follow", f"bob@{b.host}")
    b.publish("bob", "a quiet pier", "the quiet pier")
    eventually(
        lambda: any("the quiet pier" in status["content"] for status in toot.statuses("timelines", "home")),
        "bob's post in ana's home timeline",
    )

    toot.run("delete", status_id)
    result = subprocess.run(toot.command("status", status_id), env=toot.env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "not found" in (result.stdout + result.stderr).lower()

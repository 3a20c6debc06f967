"""masto.js (the JavaScript library behind Elk and many bots), run by Node against a real instance:
register an app, authorize with PKCE, verify credentials, upload with alt text, post, read the home and
local timelines, favourite, boost, receive a post and a notification live on the user stream (masto.js's
WebSocket client), read notifications, grouped ones too (its v2 client), delete. `npm ci --prefix
tests/clients` installs it (the README's test command does)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.clients.conftest import PASSWORD, Instance, approve, pkce_pair, png_bytes

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
REDIRECT = "http://127.0.0.1/masto-callback"


def node(*arguments: str, env: dict[str, str] | None = None) -> dict[str, object]:
    result = subprocess.run(
        ["node", str(HERE / "masto_flow.mjs"), *arguments],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=HERE,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def masto_installed() -> None:
    assert shutil.which("node"), "Node.js is needed: apt-get install nodejs npm"
    assert (HERE / "node_modules" / "masto").is_dir(), "run: npm ci --prefix tests/clients"


def authorize(instance: Instance, username: str, client_id: str) -> tuple[str, str]:
    """What the person does in the browser for the app (PKCE): the code, and the verifier to redeem it."""
    verifier, challenge = pkce_pair()
    query = urlencode(
        {
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "read write follow push",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return approve(instance, username, f"{instance.base_url}/oauth/authorize?{query}"), verifier


def test_a_whole_session_with_masto_js(instances: tuple[Instance, Instance], tmp_path: Path) -> None:
    a, _ = instances
    a.reverie("user", "create", "cid", "--password-stdin", stdin=PASSWORD + "\n")
    app = node("register", a.base_url, REDIRECT)
    code, verifier = authorize(a, "ana", str(app["clientId"]))
    other_code, other_verifier = authorize(a, "cid", str(app["clientId"]))
    image = tmp_path / "meadow.png"
    image.write_bytes(png_bytes((40, 160, 60)))
    result = node(
        "session",
        a.base_url,
        REDIRECT,
        env={
            "CLIENT_ID": str(app["clientId"]),
            "CLIENT_SECRET": str(app["clientSecret"]),
            "CODE": code,
            "VERIFIER": verifier,
            "OTHER_CODE": other_code,
            "OTHER_VERIFIER": other_verifier,
            "PNG": str(image),
        },
    )
    assert result["username"] == "ana"
    assert str(result["version"]).startswith("4.")
    assert result["mediaUrl"] and result["mediaDescription"] == "a green rectangle"
    assert result["statusMedia"] == [result["mediaId"]] and result["tags"] == ["meadow"]
    assert result["inHome"] and result["inLocal"]
    assert result["favourited"] is True and result["rebloggedOf"] == result["statusId"]
    # masto.js's streaming client: the live post as an update, cid's favourite of it as a notification
    assert result["streamErrors"] == [], result
    assert result["streamedId"] == result["liveId"], "the live post did not arrive on the user stream"
    assert "live from the meadow" in str(result["streamedContent"])
    notification = result["streamedNotification"]
    assert isinstance(notification, dict), "the favourite did not arrive on the user stream"
    assert notification["type"] == "favourite" and notification["acct"] == "cid"
    assert str(notification["key"]).startswith(f"favourite-{result['liveId']}-")
    # Grouped notifications through masto.js's v2 client: the same group, with its status and account
    groups = result["groups"]
    assert isinstance(groups, list)
    live_group = next(group for group in groups if group["statusId"] == result["liveId"])
    assert live_group == {
        "key": notification["key"],
        "type": "favourite",
        "count": 1,
        "statusId": result["liveId"],
        "accounts": [live_group["accounts"][0]],
    }
    assert "cid" in result["groupAccounts"] and result["liveId"] in result["groupStatuses"]
    assert "a green field" in str(result["deletedText"]) and result["gone"] is True

"""masto.js (the JavaScript library behind Elk and many bots), run by Node against a real instance:
register an app, authorize with PKCE, verify credentials, upload with alt text, post, read the home and
local timelines, favourite, boost, read notifications, delete. (masto.js's streaming client does not
yet receive our user stream; streaming is proven with a WebSocket client in
`tests/fediverse/client_api/test_streaming.py`.) `npm ci --prefix tests/clients` installs it (the README's
test command does)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.clients.conftest import Instance, approve, pkce_pair, png_bytes

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


def test_a_whole_session_with_masto_js(instances: tuple[Instance, Instance], tmp_path: Path) -> None:
    a, _ = instances
    app = node("register", a.base_url, REDIRECT)
    verifier, challenge = pkce_pair()
    query = urlencode(
        {
            "client_id": app["clientId"],
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "read write follow push",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    code = approve(a, "ana", f"{a.base_url}/oauth/authorize?{query}")
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
            "PNG": str(image),
        },
    )
    assert result["username"] == "ana"
    assert str(result["version"]).startswith("4.")
    assert result["mediaUrl"] and result["mediaDescription"] == "a green rectangle"
    assert result["statusMedia"] == [result["mediaId"]] and result["tags"] == ["meadow"]
    assert result["inHome"] and result["inLocal"]
    assert result["favourited"] is True and result["rebloggedOf"] == result["statusId"]
    assert "a green field" in str(result["deletedText"]) and result["gone"] is True

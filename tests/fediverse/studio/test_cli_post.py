"""``reverie post`` as a real process: it paints with progress, publishes, and the follower's server hears of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starlette.testclient import TestClient

from fediverse.core.config import Settings
from storage.models import Account
from tests.conftest import TEST_BASE_URL
from tests.fediverse.studio.conftest import follow_from
from tests.peers import FakePeer
from tests.processes import run_reverie


def environment_of(settings: Settings) -> dict[str, str]:
    return {
        "REVERIE_BASE_URL": TEST_BASE_URL,
        "REVERIE_DATA_DIR": str(settings.data_dir),
        "REVERIE_DATABASE_URL": settings.database_url,
        "REVERIE_ALLOW_PRIVATE_ADDRESSES": "true",
    }


def test_reverie_post_paints_publishes_and_delivers(
    client: TestClient, settings: Settings, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana has a follower on another server
    make_user("ana")
    follow_from(client, peer, "ana")
    # When she posts from a terminal
    result = run_reverie(
        "post",
        "ana",
        "--prompt",
        "misty mountains at dawn",
        "--seed",
        "11",
        "--size",
        "256x256",
        "--caption",
        "Morning #walk",
        "--mood",
        "🌄 calm",
        env=environment_of(settings),
    )
    # Then the command shows progress, prints the post's address, and has already delivered it
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    assert url.startswith(f"{TEST_BASE_URL}/@ana/")
    assert "painting: 100%" in result.stderr
    assert "delivered to 1 inbox(es)." in result.stderr
    (create,) = peer.activities("Create")
    note = create["object"]
    assert note["url"] == url
    assert note["mood"] == "🌄 calm"
    assert "seed 11 · prompt: “misty mountains at dawn”" in note["content"]
    (image,) = note["attachment"]
    assert (image["width"], image["height"], image["mediaType"]) == (256, 256, "image/jpeg")
    assert {tag["name"] for tag in note["tag"] if tag["type"] == "Hashtag"} == {"#walk", "#aiart"}


def test_reverie_post_explains_what_is_wrong(
    client: TestClient, settings: Settings, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    environment = environment_of(settings)
    unknown = run_reverie("post", "nobody", "--prompt", "sea", env=environment)
    assert unknown.returncode == 1 and "No local account named 'nobody'" in unknown.stderr
    bad_style = run_reverie("post", "ana", "--prompt", "sea", "--style", "baroque", env=environment)
    assert bad_style.returncode == 1 and "Unknown style 'baroque'" in bad_style.stderr
    bad_size = run_reverie("post", "ana", "--prompt", "sea", "--size", "big", env=environment)
    assert bad_size.returncode == 1 and "--size looks like 1024x1024" in bad_size.stderr
    assert "Traceback" not in unknown.stderr + bad_style.stderr + bad_size.stderr


def test_bad_generation_settings_stop_start_up_with_the_variable_named(tmp_path: Path) -> None:
    for environment, variable in (
        ({"REVERIE_GENERATOR": "openai"}, "REVERIE_OPENAI_BASE_URL"),
        ({"REVERIE_GENERATOR": "dall-e"}, "REVERIE_GENERATOR"),
        ({"REVERIE_AI_TAG": "AI art"}, "REVERIE_AI_TAG"),
        ({"REVERIE_GENERATION_TIMEOUT": "soon"}, "REVERIE_GENERATION_TIMEOUT"),
    ):
        result = run_reverie("serve", env={"REVERIE_DATA_DIR": str(tmp_path / "data"), **environment})
        assert result.returncode == 2, result.stderr
        assert f"configuration error: {variable}" in result.stderr
        assert "Traceback" not in result.stderr

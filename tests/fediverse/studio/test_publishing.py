"""Publishing image and mood posts through ``POST /api/posts``: what followers on other servers receive."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image
from starlette.testclient import TestClient

from fediverse.generation.provenance import read_parameters_text
from fediverse.imaging import is_valid_blurhash
from storage.models import Account
from tests.conftest import TEST_BASE_URL
from tests.fediverse.generation.test_provenance import xmp_of
from tests.fediverse.studio.conftest import Browser, create_user, drain, follow_from, generate, sign_in
from tests.fediverse.studio.note_expectations import (
    PUBLIC,
    gotosocial_problems,
    mastodon_reads,
    pixelfed_problems,
)
from tests.fediverse.test_imaging import encode, gradient
from tests.peers import FakePeer

AS2 = {"Accept": "application/activity+json"}


def delivered_note(peer: FakePeer) -> dict[str, Any]:
    """The one Create the peer received (a mentioned follower gets it at the shared and the personal
    inbox: the same activity twice, which the server drops by id — decision 0012)."""
    creates = peer.activities("Create")
    assert creates and all(create == creates[0] for create in creates)
    assert all(post.signature_ok for post in peer.posts())
    return creates[0]["object"]  # type: ignore[no-any-return]


def outbox_notes(browser: Browser) -> list[dict[str, Any]]:
    page = browser.get(f"/users/{browser.account.username}/outbox?page=true", headers=AS2).json()
    return [item["object"] for item in page["orderedItems"]]


def test_an_image_post_reaches_followers_in_a_shape_every_server_keeps(
    client: TestClient, ana: Browser, peer: FakePeer
) -> None:
    # Given ana has a follower on another server, and two generated images (one flat-colour PNG)
    follow_from(client, peer, "ana")
    lake = generate(ana, prompt="a calm lake at dawn", seed=42, width=1536, height=1024)["media"][0]
    pixel = generate(ana, prompt="a city at night", style="pixel", seed=7)["media"][0]
    # When she publishes them in that order, with alt text, caption, mood, a content warning and a mention
    response = ana.post(
        "/api/posts",
        json={
            "media_ids": [pixel["id"], lake["id"]],
            "caption": f"Two moods #dawn cc @ben@{peer.host}",
            "mood_emoji": "🌅",
            "mood_word": "hopeful",
            "content_warning": "bright colours",
            "sensitive": False,
            "visibility": "public",
            "alt_texts": {str(pixel["id"]): "Blocky neon towers at night"},
        },
    )
    assert response.status_code == 201
    created = response.json()
    assert created["ap_id"] == f"{TEST_BASE_URL}/users/ana/statuses/{created['id']}"
    assert created["url"] == f"{TEST_BASE_URL}/@ana/{created['id']}"
    drain(client)
    # Then the follower's server receives one signed Create, addressed as Mastodon addresses public posts
    note = delivered_note(peer)
    assert note["id"] == created["ap_id"] and note["url"] == created["url"]
    assert note["to"] == [PUBLIC] and note["cc"][0] == f"{TEST_BASE_URL}/users/ana/followers"
    assert note["summary"] == "bright colours" and note["sensitive"] is True
    # And the images arrive in order, as JPEG display copies with alt text, size, placeholder and focal point
    first, second = note["attachment"]
    assert first["name"] == first["summary"] == "Blocky neon towers at night"
    assert second["name"] == second["summary"] == lake["alt_text"]
    assert (second["width"], second["height"]) == (1280, 853)  # the 1536 px image's display copy
    for attachment in note["attachment"]:
        assert attachment["type"] == "Image" and attachment["mediaType"] == "image/jpeg"
        assert is_valid_blurhash(attachment["blurhash"]) and attachment["focalPoint"] == [0.0, 0.0]
        assert attachment["digitalSourceType"].endswith("/algorithmicMedia")
        served = client.get(attachment["url"].removeprefix(TEST_BASE_URL))
        assert served.headers["content-type"] == attachment["mediaType"]
        with Image.open(io.BytesIO(served.content)) as image:
            assert image.size == (attachment["width"], attachment["height"])
    # And Pixelfed, Mastodon and GoToSocial would keep every image
    assert pixelfed_problems(note) == []
    assert gotosocial_problems(note) == []
    assert [(item["description"], item["blurhash"]) for item in mastodon_reads(note)] == [
        (attachment["summary"], attachment["blurhash"]) for attachment in note["attachment"]
    ]
    # And the text says what the image is, how it was made, and carries the automatic AI tag
    content = note["content"]
    assert "Mood: 🌅 hopeful" in content and note["mood"] == "🌅 hopeful"
    assert "🎨 Generated with procedural mood painter 1.0 · seed 7 · prompt: “a city at night”" in content
    hashtags = {tag["name"] for tag in note["tag"] if tag["type"] == "Hashtag"}
    assert hashtags == {"#dawn", "#aiart"}
    (mention,) = [tag for tag in note["tag"] if tag["type"] == "Mention"]
    assert mention["href"] == f"{peer.base_url}/users/ben" and mention["href"] in note["cc"]
    assert f'href="{peer.base_url}/@ben"' in content
    # And the provenance travels under our own terms
    assert note["generation"]["prompt"] == "a city at night" and note["generation"]["seed"] == 7
    assert note["generation"]["parameters"]["style"] == "pixel"
    assert note["digitalSourceType"].endswith("/algorithmicMedia")
    # And the outbox serves the very same Note
    assert outbox_notes(ana)[0] == note


def test_a_hidden_prompt_leaves_the_note_the_text_and_the_file(
    client: TestClient, ana: Browser, peer: FakePeer
) -> None:
    # Given a generated draft whose file names its prompt
    follow_from(client, peer, "ana")
    draft = generate(ana, prompt="my secret garden", seed=3)["media"][0]
    draft_path = draft["url"].removeprefix(TEST_BASE_URL)
    with Image.open(io.BytesIO(client.get(draft_path).content)) as image:
        assert "my secret garden" in (read_parameters_text(image) or "")
    # When ana publishes it with the prompt hidden
    response = ana.post("/api/posts", json={"media_ids": [draft["id"]], "hide_prompt": True, "caption": "guess"})
    assert response.status_code == 201
    drain(client)
    # Then followers see which generator made it, but not the prompt, nor the seed that would confirm a guess
    note = delivered_note(peer)
    assert "my secret garden" not in str(note)
    assert "🎨 Generated with procedural mood painter 1.0</p>" in note["content"]
    assert "seed" not in note["generation"] and "prompt" not in note["generation"]
    # And the published file no longer carries it, while its AI label stays
    published = client.get(note["attachment"][0]["url"].removeprefix(TEST_BASE_URL))
    assert published.status_code == 200
    with Image.open(io.BytesIO(published.content)) as image:
        parameters = read_parameters_text(image) or ""
        xmp = xmp_of(image)
    assert parameters.startswith("(prompt hidden)\n") and "Seed" not in parameters
    assert "algorithmicMedia" in xmp and "my secret garden" not in xmp
    # And the draft's file that named it is gone
    assert client.get(draft_path).status_code == 404
    # And nobody can ask for the prompt to remix it
    assert ana.get("/api/remix", params={"source": response.json()["ap_id"]}).status_code == 404


def test_hiding_a_prompt_that_the_alt_text_repeats_is_refused(ana: Browser) -> None:
    draft = generate(ana, prompt="my secret garden")["media"][0]
    refused = ana.post(
        "/api/posts",
        json={"media_ids": [draft["id"]], "hide_prompt": True, "alt_texts": {str(draft["id"]): "My secret garden"}},
    )
    assert refused.status_code == 400
    assert "repeats the prompt you are hiding" in refused.json()["error"]
    assert ana.get(draft["url"].removeprefix(TEST_BASE_URL)).status_code == 200  # nothing was lost


def test_a_mood_post_needs_no_image(client: TestClient, ana: Browser, peer: FakePeer) -> None:
    follow_from(client, peer, "ana")
    response = ana.post("/api/posts", json={"mood_emoji": "🌧", "mood_word": "melancholy", "visibility": "unlisted"})
    assert response.status_code == 201
    drain(client)
    note = delivered_note(peer)
    assert note["attachment"] == [] and note["mood"] == "🌧 melancholy"
    assert note["to"] == [f"{TEST_BASE_URL}/users/ana/followers"] and PUBLIC in note["cc"]
    assert "generation" not in note and note["tag"] == []
    assert "Mood: 🌧 melancholy" in note["content"]


def test_uploaded_photos_get_no_ai_label(ana: Browser) -> None:
    upload = ana.post("/api/media", files={"file": ("a.png", encode(gradient(80, 60), "PNG"), "image/png")}).json()
    assert ana.post("/api/posts", json={"media_ids": [upload["id"]], "caption": "a photo"}).status_code == 201
    note = outbox_notes(ana)[0]
    assert note["tag"] == [] and "generation" not in note and "Generated with" not in note["content"]
    assert "digitalSourceType" not in note["attachment"][0]


@pytest.mark.parametrize(("setting", "expected"), [("", set()), ("#MadeWithAI", {"#madewithai"})])
def test_the_ai_tag_is_configurable(client_with: Callable[..., TestClient], setting: str, expected: set[str]) -> None:
    client = client_with(REVERIE_AI_TAG=setting)
    ana = sign_in(client, create_user(client, "ana"))
    media = generate(ana)["media"][0]
    assert ana.post("/api/posts", json={"media_ids": [media["id"]]}).status_code == 201
    assert {tag["name"] for tag in outbox_notes(ana)[0]["tag"] if tag["type"] == "Hashtag"} == expected


def test_bad_compositions_are_refused_and_lose_nothing(
    client: TestClient, ana: Browser, make_user: Callable[..., Account]
) -> None:
    media = generate(ana, variants=4)["media"]
    ids = [item["id"] for item in media]
    ben = sign_in(client, make_user("ben"))
    bens = generate(ben)["media"][0]["id"]
    ana = sign_in(client, ana.account)
    extra = generate(ana)["media"][0]["id"]
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"media_ids": [*ids, extra]}, 400, "at most 4"),
        ({"media_ids": [ids[0], ids[0]]}, 400, "attached twice"),
        ({"media_ids": [bens]}, 400, "Image 1 is missing"),
        ({"media_ids": [999_999]}, 400, "Image 1 is missing"),
        ({"media_ids": ["x"]}, 400, "Image ids are numbers"),
        ({"media_ids": [ids[0]], "visibility": "everyone"}, 400, "Unknown visibility"),
        ({"media_ids": [ids[0]], "alt_texts": {str(extra): "x"}}, 400, "not in this post"),
        ({"media_ids": [ids[0]], "alt_texts": {str(ids[0]): "x" * 1501}}, 400, "at most 1500"),
        ({"media_ids": [ids[0]], "sensitive": "yes"}, 400, "sensitive must be true or false"),
        ({"media_ids": [ids[0]], "caption": "x" * 2001}, 400, "at most 2000"),
        ({"media_ids": [ids[0]], "in_reply_to": "ftp://x"}, 400, "in_reply_to must be the address"),
        ({"caption": "   "}, 400, "needs an image, a caption or a mood"),
    ]
    for body, status, message in cases:
        response = ana.post("/api/posts", json=body)
        assert response.status_code == status, body
        assert message in response.json()["error"], (body, response.json())
    # The drafts are all still there, and one post uses them
    assert ana.post("/api/posts", json={"media_ids": ids}).status_code == 201
    used_again = ana.post("/api/posts", json={"media_ids": [ids[0]]})
    assert used_again.status_code == 400 and "already used" in used_again.json()["error"]


def test_a_reply_is_linked_to_its_parent(ana: Browser) -> None:
    parent = ana.post("/api/posts", json={"caption": "first"}).json()
    reply = ana.post("/api/posts", json={"caption": "second", "in_reply_to": parent["url"]})
    assert reply.status_code == 201
    assert outbox_notes(ana)[0]["inReplyTo"] == parent["ap_id"]
    missing = ana.post("/api/posts", json={"caption": "x", "in_reply_to": f"{TEST_BASE_URL}/users/ana/statuses/1"})
    assert missing.status_code == 404

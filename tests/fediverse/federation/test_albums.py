"""Posts with more than four images (issue 12, item 3): the post page shows every image; a card in a feed
shows four and a "+N" tile. Ingestion keeps up to twenty (``notes_in.MAX_ATTACHMENTS``)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from storage.models import Account, Media, Post, PostMedia
from tests.conftest import TEST_BASE_URL
from tests.fediverse.federation.conftest import deliver, follow_remote, load_payload, query
from tests.fediverse.studio.conftest import sign_in
from tests.fediverse.test_imaging import encode, gradient
from tests.fediverse.web.conftest import BROWSER
from tests.media_host import MediaHost, running_media_host
from tests.peers import FakePeer


@pytest.fixture
def media() -> Iterator[MediaHost]:
    """Pixelfed's storage host, serving the album's six pictures (each a different size)."""
    with running_media_host() as host:
        yield host


def album(peer: FakePeer, media: MediaHost) -> dict[str, Any]:
    """Pixelfed's six-image album, its pictures on ``media`` (cached by our worker when it arrives)."""
    payload = load_payload(
        "pixelfed_create_note_album_six.json",
        {"https://pixelfed.social/storage": media.base_url + "/storage", "https://pixelfed.social": peer.base_url},
    )
    for index, item in enumerate(payload["object"]["attachment"]):
        image_format = "PNG" if item["mediaType"] == "image/png" else "JPEG"
        media.serve(item["url"].removeprefix(media.base_url), encode(gradient(120 + index, 90), image_format))
    return payload


def our_files(client: TestClient, payload: dict[str, Any], column: str) -> list[str]:
    """Our URLs of the album's cached pictures, in order: ``display_key`` or ``thumbnail_key``."""
    rows = query(
        client,
        select(getattr(Media, column))
        .join(PostMedia)
        .join(Post)
        .where(Post.ap_id == payload["object"]["id"])
        .order_by(PostMedia.position),
    )
    return [f"{TEST_BASE_URL}/media/{row[0]}" for row in rows]


def media_block(page: str, post_link: str | None = None) -> str:
    """The ``<div class="media …">`` of the post (the first one on a post page; the one linking to
    ``post_link`` in a feed)."""
    blocks = re.findall(r'<div class="media media-count-[^"]*">.*?\n</div>', page, re.S)
    if post_link is not None:
        blocks = [block for block in blocks if f'href="{post_link}"' in block]
    assert blocks, "no images shown"
    return blocks[0]


def shown_images(block: str) -> list[str]:
    return [html.unescape(src) for src in re.findall(r'<img src="([^"]+)"', block)]


def test_a_six_image_pixelfed_album_shows_every_image_on_its_page_and_four_plus_two_in_the_feed(
    client: TestClient, peer: FakePeer, media: MediaHost, make_user: Callable[..., Account]
) -> None:
    # Given ana follows a Pixelfed user, whose six-image album arrives (its pictures cached on our origin)
    ana = make_user("ana")
    dansup = peer.add_actor("dansup")
    follow_remote(client, peer, "ana", dansup)
    payload = album(peer, media)
    assert len(payload["object"]["attachment"]) == 6
    deliver(client, peer, dansup, payload)
    sent, thumbnails = our_files(client, payload, "display_key"), our_files(client, payload, "thumbnail_key")
    assert len(set(sent)) == 6
    sign_in(client, ana)
    # When she opens her home feed
    feed = client.get("/", headers=BROWSER).text
    (post_link,) = set(re.findall(rf'href="(/@dansup@{re.escape(peer.host)}/\d+)"', feed))
    card = media_block(feed, post_link)
    # Then the card shows the first four images, the fourth under a "+2" tile that leads to the post
    assert shown_images(card) == thumbnails[:4]
    assert card.count('class="media-more"') == 1
    assert re.search(r'class="media-more">\+2<span class="visually-hidden"> more images</span>', card)
    last_item = card.rsplit('<a class="media-item"', 1)[1]
    assert f'href="{post_link}"' in last_item and "media-more" in last_item
    # When she opens the post
    page = client.get(post_link, headers=BROWSER).text
    # Then all six images are shown, in order, with their descriptions, and no "+N" tile
    block = media_block(page)
    assert shown_images(block) == sent
    assert 'alt="Gulls on a lamp post"' in block and 'alt="Harbour lights doubled in the water"' in block
    assert "media-more" not in block


def test_four_images_show_no_more_tile(
    client: TestClient, peer: FakePeer, media: MediaHost, make_user: Callable[..., Account]
) -> None:
    # Given an album of exactly four images in ana's feed
    ana = make_user("ana")
    dansup = peer.add_actor("dansup")
    follow_remote(client, peer, "ana", dansup)
    payload = album(peer, media)
    payload["object"]["attachment"] = payload["object"]["attachment"][:4]
    deliver(client, peer, dansup, payload)
    sign_in(client, ana)
    feed = client.get("/", headers=BROWSER).text
    # Then the card shows all four and no "+N" tile
    card = media_block(feed)
    assert len(shown_images(card)) == 4 and "media-more" not in card

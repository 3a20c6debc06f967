"""Custom emoji (issue 12, item 7): ``:shortcode:`` in remote posts, names and bios is drawn as the picture its
``Emoji`` tag names, cached on our origin like any remote file (decision 0059), as a fixed-size ``<img>``
whose alt text is the shortcode. Payloads are Misskey's (``misskey_note_with_emoji.json``) and Mastodon's
shape of the same tag; the pictures live on a real files host on 127.0.0.1."""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from fediverse.core.config import Settings
from fediverse.core.urls import Urls
from fediverse.reads.emoji import emojify_html, emojify_text
from fediverse.web.client_api.entities import custom_emojis
from storage.models import Account, Actor, CustomEmoji, Media, Post
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.federation.conftest import deliver, drain, follow_remote, known_actor, load_payload, query
from tests.fediverse.studio.conftest import sign_in
from tests.fediverse.test_imaging import encode, gradient
from tests.fediverse.web.conftest import BROWSER
from tests.media_host import MediaHost, running_media_host
from tests.peers import FakePeer

OUR_MEDIA = f"{TEST_BASE_URL}/media/"
URLS = Urls(TEST_BASE_URL)


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    return make_settings(database_url, REVERIE_ALLOW_PRIVATE_ADDRESSES="true", REVERIE_ANONYMOUS_CACHE_MS="0")


@pytest.fixture
def media() -> Iterator[MediaHost]:
    """Misskey's object storage, serving its emoji."""
    with running_media_host() as host:
        host.serve("/misskey/emoji/blobcat_wave.png", encode(gradient(128, 128), "PNG"), "image/png")
        host.serve("/misskey/emoji/tea.gif", encode(gradient(64, 64), "GIF"), "image/gif")
        yield host


def emoji_images(page: str) -> list[tuple[str, str]]:
    """(src, alt) of every custom emoji drawn on the page."""
    found = re.findall(
        r'<img class="custom-emoji" src="([^"]+)" alt="([^"]+)" title="[^"]+" width="20" height="20"', page
    )
    return [(html.unescape(src), alt) for src, alt in found]


def emoji_media(client: TestClient, host: str) -> dict[str, Media]:
    rows = query(
        client,
        select(CustomEmoji.shortcode, Media)
        .join(Media, Media.id == CustomEmoji.media_id)
        .where(CustomEmoji.domain == host),
    )
    return {shortcode: media for shortcode, media in rows}


def emoji_tag(media: MediaHost, peer: FakePeer, name: str, path: str, media_type: str = "image/png") -> dict[str, Any]:
    """Misskey's ``renderEmoji`` (Mastodon's ``EmojiSerializer`` has the same shape, with a numeric id)."""
    return {
        "id": f"{peer.base_url}/emojis/{name}",
        "type": "Emoji",
        "name": f":{name}:",
        "updated": "2024-03-02T11:20:41.530Z",
        "icon": {"type": "Image", "mediaType": media_type, "url": media.url(path)},
    }


def misskey_note(client: TestClient, peer: FakePeer, media: MediaHost, make_user: Callable[..., Account]) -> Any:
    """Misskey's note with custom emoji, from an account ana follows; returns (payload, author)."""
    make_user("ana")
    author = peer.add_actor("9m4hfr7qwc")
    follow_remote(client, peer, "ana", author)
    payload = load_payload(
        "misskey_note_with_emoji.json",
        {"https://s3.misskey.example": media.base_url, "https://misskey.example": peer.base_url},
    )
    return payload, author


def post_page(client: TestClient, ap_id: str) -> str:
    ((post, author),) = query(
        client, select(Post, Actor).join(Actor, Actor.id == Post.author_id).where(Post.ap_id == ap_id)
    )
    return client.get(f"/@{author.username}@{author.domain}/{post.id}", headers=BROWSER).text


def test_a_misskey_notes_custom_emoji_are_drawn_from_our_origin(
    client: TestClient, peer: FakePeer, media: MediaHost, make_user: Callable[..., Account]
) -> None:
    # Given a Misskey note "good morning :blobcat_wave: tea time :tea::tea: no such one :nope:"
    payload, author = misskey_note(client, peer, media, make_user)
    # When it arrives and the worker runs
    deliver(client, peer, author, payload)
    # Then each emoji is stored once for its server, its picture cached
    found = emoji_media(client, peer.host)
    assert set(found) == {"blobcat_wave", "tea"}
    assert all(row.original_key is not None for row in found.values())
    assert media.gets("/misskey/emoji/tea.gif") == 1
    # And the post page draws them, in order, from our origin, with the shortcode as their text
    page = post_page(client, payload["object"]["id"])
    wave, tea = (f"{OUR_MEDIA}remote/{found[name].id}/thumbnail" for name in ("blobcat_wave", "tea"))
    assert emoji_images(page) == [(wave, ":blobcat_wave:"), (tea, ":tea:"), (tea, ":tea:")]
    assert ":nope:" in page  # no tag, no picture: the text stays
    assert media.base_url not in page
    # And that URL serves the picture
    assert client.get(tea.removeprefix(TEST_BASE_URL)).headers["content-type"].startswith("image/")


def test_a_remote_actors_emoji_show_in_its_name_and_bio_and_the_client_api(
    client: TestClient, peer: FakePeer, media: MediaHost
) -> None:
    # Given a Misskey account with an emoji in its name and another in its bio
    koi = peer.add_actor(
        "koi",
        name="<b>Koi</b> :blobcat_wave:",
        summary='<p>I like :tea: <a href="https://example.org/:tea:">:tea: link</a></p>',
        tag=[
            emoji_tag(media, peer, "blobcat_wave", "/misskey/emoji/blobcat_wave.png"),
            emoji_tag(media, peer, "tea", "/misskey/emoji/tea.gif", "image/gif"),
        ],
    )
    actor = known_actor(client, koi)
    drain(client)
    found = emoji_media(client, peer.host)
    wave, tea = (f"{OUR_MEDIA}remote/{found[name].id}/thumbnail" for name in ("blobcat_wave", "tea"))
    # When someone opens its profile
    page = client.get(f"/@koi@{peer.host}", headers=BROWSER).text
    # Then the name is escaped text with the emoji drawn, and the bio too (not inside the link's address)
    heading = re.search(r'<h1 id="profile-name">(.*?)</h1>', page, re.S)
    assert heading is not None
    assert heading.group(1).startswith("&lt;b&gt;Koi&lt;/b&gt; ") and emoji_images(heading.group(1)) == [
        (wave, ":blobcat_wave:")
    ]
    bio = re.search(r'<div class="profile-bio">(.*?)</div>', page, re.S)
    assert bio is not None
    assert emoji_images(bio.group(1)) == [(tea, ":tea:"), (tea, ":tea:")]
    assert 'href="https://example.org/:tea:"' in bio.group(1)
    assert media.base_url not in page
    # And the Mastodon client API lists them with URLs on our origin
    listed = custom_emojis(actor.emojis, services_of(client).urls)
    assert [(item["shortcode"], item["static_url"]) for item in listed] == [("blobcat_wave", wave), ("tea", tea)]
    assert all(item["url"].startswith(OUR_MEDIA) and item["visible_in_picker"] is False for item in listed)


def test_an_emoji_whose_picture_changed_keeps_its_row_and_is_fetched_again(
    client: TestClient, peer: FakePeer, media: MediaHost
) -> None:
    # Given an actor with :tea:, cached
    koi = peer.add_actor("koi", name="Koi :tea:", tag=[emoji_tag(media, peer, "tea", "/misskey/emoji/tea.gif")])
    known_actor(client, koi)
    drain(client)
    before = emoji_media(client, peer.host)["tea"]
    # When its server changes the picture and the actor is read again
    media.serve("/misskey/emoji/tea-2.png", encode(gradient(32, 32), "PNG"), "image/png")
    koi.extra["tag"] = [emoji_tag(media, peer, "tea", "/misskey/emoji/tea-2.png")]
    run_in_app(client, functools.partial(services_of(client).resolver.actor, refresh=True), koi.id)
    drain(client)
    # Then the same row (so every post naming it) shows the new picture
    after = emoji_media(client, peer.host)["tea"]
    assert after.id == before.id and after.remote_url == media.url("/misskey/emoji/tea-2.png")
    assert after.original_key is not None and after.original_key != before.original_key
    assert media.gets("/misskey/emoji/tea-2.png") == 1


def test_emoji_tags_that_are_not_usable_are_ignored(client: TestClient, peer: FakePeer, media: MediaHost) -> None:
    # Given tags with a bad shortcode, a script URL, a non-image type and no icon
    koi = peer.add_actor(
        "koi",
        name='Koi :a"><x: :ok_one:',
        tag=[
            {"type": "Emoji", "name": ':a"><x:', "icon": {"type": "Image", "url": media.url("/x.png")}},
            {"type": "Emoji", "name": ":js:", "icon": {"type": "Image", "url": "javascript:alert(1)"}},
            {
                "type": "Emoji",
                "name": ":svg:",
                "icon": {"type": "Image", "mediaType": "text/html", "url": media.url("/y")},
            },
            {"type": "Emoji", "name": ":bare:"},
            emoji_tag(media, peer, "ok_one", "/misskey/emoji/tea.gif"),
        ],
    )
    actor = known_actor(client, koi)
    # Then only the usable one is kept, and the name stays escaped text around it
    assert set(actor.emojis or {}) == {"ok_one"}
    page = client.get(f"/@koi@{peer.host}", headers=BROWSER).text
    heading = re.search(r'<h1 id="profile-name">(.*?)</h1>', page, re.S)
    assert heading is not None and heading.group(1).startswith('Koi :a"&gt;&lt;x: <img class="custom-emoji"')


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("<p>a :tea: b</p>", "<p>a {tea} b</p>"),
        ("<p>:tea::tea:</p>", "<p>{tea}{tea}</p>"),
        ("<p>\u200b:tea:\u200b</p>", "<p>\u200b{tea}\u200b</p>"),
        ("<p>word:tea:word</p>", "<p>word:tea:word</p>"),
        ("<p>:unknown: :te:</p>", "<p>:unknown: :te:</p>"),
        (
            '<p><a href="https://x.example/:tea:" title=":tea:">x</a></p>',
            '<p><a href="https://x.example/:tea:" title=":tea:">x</a></p>',
        ),
        ("<p>no emoji at all</p>", "<p>no emoji at all</p>"),
    ],
)
def test_shortcodes_become_pictures_only_in_text(source: str, expected: str) -> None:
    tea = (
        f'<img class="custom-emoji" src="{OUR_MEDIA}remote/7/thumbnail" alt=":tea:" title=":tea:" '
        'width="20" height="20" loading="lazy" decoding="async">'
    )
    assert emojify_html(source, {"tea": 7, "te": True}, URLS) == expected.format(tea=tea)


def test_names_are_escaped_before_emoji_are_drawn() -> None:
    drawn = emojify_text("<script>alert(1)</script> :tea:", {"tea": 7}, URLS)
    assert drawn.startswith('&lt;script&gt;alert(1)&lt;/script&gt; <img class="custom-emoji"')
    assert emojify_text("no map :tea:", None, URLS) == "no map :tea:"


def test_a_mastodon_posts_emoji_show_in_the_feed(
    client: TestClient, peer: FakePeer, media: MediaHost, make_user: Callable[..., Account]
) -> None:
    # Given a Mastodon post naming :blobcat_wave: (Mastodon's EmojiSerializer: numeric id, PNG icon)
    make_user("ana")
    author = peer.add_actor("admin")
    follow_remote(client, peer, "ana", author)
    tag = emoji_tag(media, peer, "blobcat_wave", "/misskey/emoji/blobcat_wave.png")
    tag["id"] = f"{peer.base_url}/emojis/4217"
    note = {
        "id": f"{author.id}/statuses/1",
        "type": "Note",
        "attributedTo": author.id,
        "content": "<p>hello :blobcat_wave:</p>",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [f"{author.id}/followers"],
        "tag": [tag],
    }
    deliver(
        client, peer, author, {"id": f"{note['id']}/activity", "type": "Create", "actor": author.id, "object": note}
    )
    # Then the feed card draws it from our origin
    sign_in(client, query(client, select(Account).where(Account.username == "ana"))[0][0])
    feed = client.get("/", headers=BROWSER).text
    (media_id,) = [row.id for row in emoji_media(client, peer.host).values()]
    assert (f"{OUR_MEDIA}remote/{media_id}/thumbnail", ":blobcat_wave:") in emoji_images(feed)
    assert media.base_url not in feed

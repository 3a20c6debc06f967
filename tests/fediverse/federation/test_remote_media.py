"""Remote media comes from our own origin (issue 12, item 11; decision 0059).

A remote post's pictures and a remote actor's avatar and header are fetched by the worker, through the
SSRF-safe fetcher and the image limits, into our media store; pages and the client API name only our
``/media/...`` URLs, and the Content-Security-Policy allows images from ourselves only. Files that cannot be
had are given up once and drawn as placeholders; cached copies are pruned after
``REVERIE_REMOTE_MEDIA_DAYS`` and fetched again when someone views them. The remote files live on a real
HTTP server on 127.0.0.1 (``tests/media_host.py``), as a Mastodon server's ``files.`` host does.
"""

from __future__ import annotations

import asyncio
import functools
import html
import io
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select, update
from starlette.testclient import TestClient

from fediverse.core.config import Settings
from fediverse.federation.media_cache import fetch_on_demand
from fediverse.housekeeping.sweep import SweepReport, sweep
from fediverse.reads.cards import image_view
from fediverse.web.app import create_app
from fediverse.web.client_api.entities import account, media_attachment
from storage.models import Account, Actor, Media, MediaFetch, MediaState, Post, PostMedia, WorkState
from storage.types import utcnow
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.federation.conftest import (
    create_of,
    deliver,
    drain,
    follow_remote,
    known_actor,
    load_payload,
    query,
    remote_note,
)
from tests.fediverse.studio.conftest import create_user, sign_in
from tests.fediverse.test_imaging import encode, gradient, png_declaring
from tests.fediverse.web.conftest import BROWSER
from tests.media_host import MediaHost, running_media_host
from tests.peers import FakePeer

JPEG = encode(gradient(1536, 1024), "JPEG", quality=80)
PNG = encode(gradient(800, 800), "PNG")
OUR_MEDIA = f"{TEST_BASE_URL}/media/"


@pytest.fixture
def media() -> Iterator[MediaHost]:
    with running_media_host() as host:
        yield host


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    """Pages are read again within a test as files arrive: no 5 s copy of an anonymous reader's page."""
    return make_settings(database_url, REVERIE_ALLOW_PRIVATE_ADDRESSES="true", REVERIE_ANONYMOUS_CACHE_MS="0")


@pytest.fixture
def one_day_client(make_settings: Callable[..., Settings], database_url: str) -> Iterator[TestClient]:
    settings = make_settings(
        database_url,
        REVERIE_ALLOW_PRIVATE_ADDRESSES="true",
        REVERIE_REMOTE_MEDIA_DAYS="1",
        REVERIE_ANONYMOUS_CACHE_MS="0",
    )
    with TestClient(create_app(settings), base_url=TEST_BASE_URL) as test_client:
        yield test_client


def images_in(page: str) -> list[str]:
    return [html.unescape(src) for src in re.findall(r'<img src="([^"]+)"', page)]


def mastodon_post(client: TestClient, peer: FakePeer, media: MediaHost, make_user: Callable[..., Account]) -> Any:
    """Mastodon's capture of a post with two pictures (a JPEG and a PNG), its files on ``media``."""
    make_user("karen")
    payload = load_payload(
        "mastodon_create_note_image.json",
        {
            "https://mastodon.local/system": media.base_url + "/system",
            "https://mastodon.local": peer.base_url,
            "https://testing.local": TEST_BASE_URL,
        },
    )
    jpeg, png = (item["url"].removeprefix(media.base_url) for item in payload["object"]["attachment"])
    return payload, jpeg, png


def stored_media(client: TestClient, ap_id: str) -> list[Media]:
    rows = query(
        client,
        select(Media).join(PostMedia).join(Post).where(Post.ap_id == ap_id).order_by(PostMedia.position),
    )
    return [row[0] for row in rows]


def post_page(client: TestClient, ap_id: str) -> str:
    ((post, author),) = query(
        client, select(Post, Actor).join(Actor, Actor.id == Post.author_id).where(Post.ap_id == ap_id)
    )
    response = client.get(f"/@{author.username}@{author.domain}/{post.id}", headers=BROWSER)
    assert response.status_code == 200
    return response.text


def sweep_at(client: TestClient, days_later: float) -> SweepReport:
    return run_in_app(client, sweep, services_of(client), utcnow() + timedelta(days=days_later))


def image_bytes(client: TestClient, url: str) -> Image.Image:
    response = client.get(url.removeprefix(TEST_BASE_URL))
    assert response.status_code == 200, (url, response.status_code)
    assert response.headers["content-type"].startswith("image/")
    picture = Image.open(io.BytesIO(response.content))
    picture.load()
    return picture


def test_a_remote_posts_pictures_are_fetched_by_the_worker_and_shown_from_our_origin(
    client: TestClient, peer: FakePeer, media: MediaHost, make_user: Callable[..., Account]
) -> None:
    # Given a Mastodon post with two pictures, whose files its server keeps on a files host
    payload, jpeg, png = mastodon_post(client, peer, media, make_user)
    media.serve(jpeg, JPEG, "image/jpeg")
    media.serve(png, PNG, "image/png")
    # When it arrives and the worker runs
    deliver(client, peer, peer.add_actor("admin"), payload)
    # Then each file was fetched once, and stored with its copies, size and blurhash
    assert (media.gets(jpeg), media.gets(png)) == (1, 1)
    first, second = stored_media(client, payload["object"]["id"])
    for row in (first, second):
        assert row.state == MediaState.REMOTE and row.cached_at is not None and row.fetch_error is None
        assert row.original_key and row.display_key and row.thumbnail_key
    assert (first.width, first.height) == (1536, 1024)
    assert first.blurhash == "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH"  # the sender's, which pages drew until now
    assert second.blurhash  # computed here
    # And the post page names only our own files, never the remote ones
    page = post_page(client, payload["object"]["id"])
    shown = [src for src in images_in(page) if "/media/" in src]
    assert shown == [OUR_MEDIA + first.display_key, OUR_MEDIA + second.display_key]
    assert media.base_url not in page
    # And those files are the pictures (the display copy of the large one is 1280 px wide, as ours are)
    assert image_bytes(client, shown[0]).size == (1280, 853)
    assert image_bytes(client, shown[1]).size == (800, 800)
    assert (media.gets(jpeg), media.gets(png)) == (1, 1)


def test_until_the_worker_has_them_pages_show_placeholders_and_urls_on_our_origin(
    client: TestClient, peer: FakePeer, media: MediaHost, make_user: Callable[..., Account]
) -> None:
    # Given the files host is down (503) when the post arrives
    payload, jpeg, png = mastodon_post(client, peer, media, make_user)
    media.statuses.update({jpeg: 503, png: 503})
    deliver(client, peer, peer.add_actor("admin"), payload)
    first, second = stored_media(client, payload["object"]["id"])
    assert first.original_key is None and first.fetch_error is None  # not given up: tried again later
    # Then the page draws the blurhash, under a picture that our origin serves once it has it
    page = post_page(client, payload["object"]["id"])
    assert 'data-blurhash="UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH"' in page
    assert [src for src in images_in(page) if "/media/" in src] == [
        f"{OUR_MEDIA}remote/{first.id}/display",
        f"{OUR_MEDIA}remote/{second.id}/display",
    ]
    assert media.base_url not in page
    # And asking for it before its retry is due does not hammer the host: "not yet", with when to ask again
    asked = client.get(f"/media/remote/{first.id}/display")
    assert asked.status_code == 503
    assert int(asked.headers["retry-after"]) >= 1 and asked.headers["cache-control"] == "no-store"
    assert media.gets(jpeg) == 1
    # When the host is back and the retry is due
    media.statuses.clear()
    media.serve(jpeg, JPEG, "image/jpeg")
    media.serve(png, PNG, "image/png")
    run_in_app(client, _due_now, client)
    drain(client)
    # Then the page shows the cached files
    first, second = stored_media(client, payload["object"]["id"])
    shown = [src for src in images_in(post_page(client, payload["object"]["id"])) if "/media/" in src]
    assert shown == [OUR_MEDIA + str(first.display_key), OUR_MEDIA + str(second.display_key)]


async def _due_now(client: TestClient) -> None:
    async with services_of(client).db.transaction() as session:
        await session.execute(update(MediaFetch).values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def test_files_that_cannot_be_pictures_are_given_up_once_and_the_page_still_renders(
    client: TestClient, peer: FakePeer, media: MediaHost, make_user: Callable[..., Account]
) -> None:
    # Given a post whose four "pictures" are: too large, a web page, a decompression bomb, and gone
    make_user("karen")
    author = peer.add_actor("mallory")
    media.endless["/huge.png"] = 17 * 1024 * 1024  # over the 16 MiB cap, streamed without a length
    media.serve("/page.png", b"<!doctype html><title>hi</title>", "text/html")
    media.serve("/bomb.png", png_declaring(100_000, 100_000), "image/png")
    paths = ["/huge.png", "/page.png", "/bomb.png", "/gone.png"]
    note = remote_note(
        author,
        1,
        "<p>four pictures</p>",
        attachment=[
            {"type": "Document", "mediaType": "image/png", "url": media.url(path), "name": path[1:]} for path in paths
        ],
        tag=[{"type": "Mention", "href": f"{TEST_BASE_URL}/users/karen", "name": "@karen"}],
        cc=[f"{TEST_BASE_URL}/users/karen"],
    )
    # When it arrives and the worker runs, twice over
    deliver(client, peer, author, create_of(author, note))
    drain(client)
    # Then each file was asked for once, and given up for a reason that asking again will not change
    assert [media.gets(path) for path in paths] == [1, 1, 1, 1]
    rows = stored_media(client, note["id"])
    assert [row.fetch_error for row in rows] == ["too_large", "not_an_image", "too_many_pixels", "gone"]
    assert all(row.original_key is None for row in rows)
    fetches = query(client, select(MediaFetch.state, MediaFetch.last_error))
    assert {state for state, _ in fetches} == {WorkState.FAILED}
    # And the page renders, with placeholders and no image to load for them
    page = post_page(client, note["id"])
    assert page.count("Picture not available") == 4
    assert not [src for src in images_in(page) if "/media/" in src]
    assert media.base_url not in page
    # And asking for one by its URL on our origin fetches nothing
    assert client.get(f"/media/remote/{rows[3].id}/display").status_code == 404
    assert [media.gets(path) for path in paths] == [1, 1, 1, 1]


def test_cached_copies_are_pruned_after_the_configured_days_and_fetched_again_when_viewed(
    client: TestClient, peer: FakePeer, media: MediaHost, make_user: Callable[..., Account]
) -> None:
    # Given a remote post's pictures in the cache
    payload, jpeg, png = mastodon_post(client, peer, media, make_user)
    media.serve(jpeg, JPEG, "image/jpeg")
    media.serve(png, PNG, "image/png")
    deliver(client, peer, peer.add_actor("admin"), payload)
    first, _ = stored_media(client, payload["object"]["id"])
    media_dir = services_of(client).settings.media_dir
    cached_file = media_dir / str(first.display_key)
    assert cached_file.is_file()
    # When housekeeping runs within the seven days (REVERIE_REMOTE_MEDIA_DAYS' default), nothing goes
    assert sweep_at(client, 6).remote_copies == 0
    assert stored_media(client, payload["object"]["id"])[0].original_key is not None
    # When it runs after them
    report = sweep_at(client, 8)
    # Then the copies are gone, files and all, but the rows keep what pages draw meanwhile
    assert report.remote_copies == 2
    first, second = stored_media(client, payload["object"]["id"])
    assert first.original_key is None and first.display_key is None and first.cached_at is None
    assert first.blurhash == "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH" and first.fetch_error is None
    assert not cached_file.exists()
    # And the page names the files' URLs on our origin, with the blurhash
    page = post_page(client, payload["object"]["id"])
    assert f"{OUR_MEDIA}remote/{first.id}/display" in images_in(page)
    assert 'data-blurhash="UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH"' in page
    # When someone views the picture
    picture = image_bytes(client, f"{OUR_MEDIA}remote/{first.id}/display")
    # Then it was fetched again, cached again, and served
    assert picture.size == (1280, 853)
    assert media.gets(jpeg) == 2 and media.gets(png) == 1
    again = stored_media(client, payload["object"]["id"])[0]
    assert again.original_key is not None and again.cached_at is not None
    assert (media_dir / str(again.display_key)).is_file()
    # And the other one comes back when the worker sees it asked for, as its thumbnail
    assert image_bytes(client, f"{OUR_MEDIA}remote/{second.id}/thumbnail").size[0] <= 400


def test_remote_media_days_sets_how_long_copies_are_kept(
    one_day_client: TestClient, peer: FakePeer, media: MediaHost
) -> None:
    client = one_day_client
    payload, jpeg, png = mastodon_post(client, peer, media, lambda name: create_user(client, name))
    media.serve(jpeg, JPEG, "image/jpeg")
    media.serve(png, PNG, "image/png")
    deliver(client, peer, peer.add_actor("admin"), payload)
    assert sweep_at(client, 0.5).remote_copies == 0
    assert sweep_at(client, 1.5).remote_copies == 2


def test_remote_media_days_of_zero_keeps_copies(make_settings: Callable[..., Settings], database_url: str) -> None:
    assert make_settings(database_url).remote_media_days == 7
    assert make_settings(database_url, REVERIE_REMOTE_MEDIA_DAYS="0").remote_media_days == 0


def test_pages_allow_images_from_our_own_origin_only(client: TestClient) -> None:
    response = client.get("/local", headers=BROWSER)
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    assert policy["img-src"] == "'self'"
    assert policy["media-src"] == "'self'"


def avatar_document(media: MediaHost, path: str) -> dict[str, Any]:
    return {"type": "Image", "mediaType": "image/png", "url": media.url(path)}


def test_a_remote_actors_avatar_and_header_are_cached_and_served_from_our_origin(
    client: TestClient, peer: FakePeer, media: MediaHost
) -> None:
    # Given a remote actor with an avatar and a header on its files host
    media.serve("/avatars/bob.png", encode(gradient(400, 400), "PNG"), "image/png")
    media.serve("/headers/bob.jpg", encode(gradient(1500, 500), "JPEG"), "image/jpeg")
    bob = peer.add_actor(
        "bob", icon=avatar_document(media, "/avatars/bob.png"), image=avatar_document(media, "/headers/bob.jpg")
    )
    # When we learn of it and the worker runs
    actor = known_actor(client, bob)
    drain(client)
    # Then its profile page shows both from our origin, never from its server
    page = client.get(f"/@bob@{peer.host}", headers=BROWSER).text
    assert media.base_url not in page
    avatar = f"{OUR_MEDIA}remote/{actor.avatar_media_id}/thumbnail"
    header = f"{OUR_MEDIA}remote/{actor.header_media_id}/display"
    assert avatar in images_in(page) and header in images_in(page)
    # And those serve the cached pictures, fetched once
    assert image_bytes(client, avatar).size == (400, 400)
    assert image_bytes(client, header).size == (1280, 427)
    assert (media.gets("/avatars/bob.png"), media.gets("/headers/bob.jpg")) == (1, 1)
    response = client.get(avatar.removeprefix(TEST_BASE_URL))
    assert response.headers["cache-control"] == "public, max-age=86400"
    # And the client API names the same URLs
    assert account(actor, services_of(client).urls)["avatar"] == avatar
    # When bob changes his avatar
    media.serve("/avatars/bob-2.png", encode(gradient(300, 300), "PNG"), "image/png")
    bob.extra["icon"] = avatar_document(media, "/avatars/bob-2.png")
    changed = run_in_app(client, functools.partial(services_of(client).resolver.actor, refresh=True), bob.id)
    drain(client)
    # Then the new one is shown, and housekeeping later removes the old row and its files
    assert changed.avatar_media_id != actor.avatar_media_id
    assert image_bytes(client, f"{OUR_MEDIA}remote/{changed.avatar_media_id}/thumbnail").size == (300, 300)
    assert sweep_at(client, 0.1).remote_rows == 1
    assert client.get(avatar.removeprefix(TEST_BASE_URL)).status_code == 404


def test_pictures_of_followers_only_posts_go_by_id_only_to_those_who_may_see_them(
    client: TestClient, peer: FakePeer, media: MediaHost, make_user: Callable[..., Account]
) -> None:
    # Given ana follows a remote account whose followers-only post has a picture not cached yet
    ana = make_user("ana")
    make_user("eve")
    author = peer.add_actor("dana")
    follow_remote(client, peer, "ana", author)
    media.statuses["/private.jpg"] = 503
    note = remote_note(
        author,
        7,
        "<p>for followers</p>",
        to=[f"{author.id}/followers"],
        cc=[],
        attachment=[{"type": "Document", "mediaType": "image/jpeg", "url": media.url("/private.jpg")}],
    )
    deliver(client, peer, author, create_of(author, note))
    (row,) = stored_media(client, note["id"])
    media.statuses.clear()
    media.serve("/private.jpg", JPEG, "image/jpeg")
    url = f"/media/remote/{row.id}/display"
    # Then its id is no capability: a reader who is not signed in gets nothing, and nothing is fetched
    assert client.get(url).status_code == 404
    assert media.gets("/private.jpg") == 1
    # And a signed-in member who may not see the post neither
    sign_in(client, query(client, select(Account).where(Account.username == "eve"))[0][0])
    assert client.get(url).status_code == 404
    # But ana, who follows, gets it once its retry is due (fetched now), privately cached
    run_in_app(client, _due_now, client)
    sign_in(client, ana)
    response = client.get(url)
    assert response.status_code == 200 and response.headers["cache-control"] == "private, no-cache"
    assert media.gets("/private.jpg") == 2


def test_only_urls_recorded_on_remote_rows_are_ever_fetched(
    client: TestClient, peer: FakePeer, media: MediaHost, make_user: Callable[..., Account]
) -> None:
    # Given a remote picture that no post or actor uses any more, and a local draft
    orphan = run_in_app(client, _remote_row, client, media.url("/orphan.jpg"))
    media.serve("/orphan.jpg", JPEG)
    # Then asking for it, for an unknown id, or for a variant that does not exist fetches nothing
    for path in (
        f"/media/remote/{orphan}/display",
        "/media/remote/987654321/display",
        f"/media/remote/{orphan}/../../etc/passwd",
        f"/media/remote/{orphan}/everything",
        "/media/remote/not-an-id/display",
        "/media/remote/0/display",
    ):
        assert client.get(path).status_code == 404, path
    assert media.requests == []


async def _remote_row(client: TestClient, url: str) -> int:
    async with services_of(client).db.transaction() as session:
        row = Media(state=MediaState.REMOTE, mime="image/jpeg", remote_url=url)
        session.add(row)
        await session.flush()
        assert row.id is not None
        return row.id


def test_the_client_api_and_image_view_never_name_a_remote_url(client: TestClient) -> None:
    urls = services_of(client).urls
    waiting = Media(id=12, state=MediaState.REMOTE, mime="image/png", remote_url="https://cdn.example/a.png")
    assert image_view(waiting, urls) is not None
    view = image_view(waiting, urls)
    assert view is not None and not view.unavailable
    assert (view.url, view.thumbnail_url) == (f"{OUR_MEDIA}remote/12/display", f"{OUR_MEDIA}remote/12/thumbnail")
    entity = media_attachment(waiting, urls)
    assert entity["url"] == f"{OUR_MEDIA}remote/12/display"
    assert entity["preview_url"] == f"{OUR_MEDIA}remote/12/thumbnail"
    gone = Media(
        id=13, state=MediaState.REMOTE, mime="image/png", remote_url="https://cdn.example/b.png", fetch_error="gone"
    )
    assert image_view(gone, urls).unavailable  # type: ignore[union-attr]
    remote_actor = Actor(
        ap_id="https://cdn.example/users/x",
        username="x",
        domain="cdn.example",
        inbox_url="https://cdn.example/inbox",
        icon_url="https://cdn.example/x.png",
        header_url="https://cdn.example/h.png",
    )
    assert account(remote_actor, urls)["avatar"] == f"{TEST_BASE_URL}/static/avatar.png"  # no row yet: the default
    assert "cdn.example" not in account(remote_actor, urls)["header"]


def test_two_requests_for_a_pruned_file_fetch_it_once(
    client: TestClient, peer: FakePeer, media: MediaHost, make_user: Callable[..., Account]
) -> None:
    # Given a remote picture whose cached copy housekeeping pruned
    payload, jpeg, png = mastodon_post(client, peer, media, make_user)
    media.serve(jpeg, JPEG, "image/jpeg")
    media.serve(png, PNG, "image/png")
    deliver(client, peer, peer.add_actor("admin"), payload)
    assert sweep_at(client, 8).remote_copies == 2
    first, _ = stored_media(client, payload["object"]["id"])
    assert first.id is not None

    # When two viewers ask for it at the same moment
    async def both() -> None:
        services = services_of(client)
        await asyncio.gather(fetch_on_demand(services, first.id or 0), fetch_on_demand(services, first.id or 0))

    run_in_app(client, both)
    # Then one fetched it, the other waited for that fetch: the files host was asked once more, not twice
    assert media.gets(jpeg) == 2
    assert stored_media(client, payload["object"]["id"])[0].original_key is not None

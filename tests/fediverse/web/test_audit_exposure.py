"""Audit finding W9, exposure by design: the files of non-public posts, NodeInfo's post count, and
remote names that spoof handles with direction controls and invisible characters."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from activitypub.errors import InvalidDocumentError
from fediverse.federation.actors_in import actor_fields
from fediverse.social import actions
from storage.models import Account, Actor, Media, Visibility
from tests.conftest import TEST_BASE_URL
from tests.fediverse.federation.conftest import (  # the app with loopback peers allowed
    act,
    client,
    peer,
    query,
    remote_follows,
    settings,
)
from tests.fediverse.test_imaging import encode, gradient
from tests.fediverse.web.conftest import BROWSER, sign_in
from tests.peers import FakePeer

__all__ = ["client", "peer", "settings"]

RLO, PDF, LRI, PDI, ZWSP = "\u202e", "\u202c", "\u2066", "\u2069", "\u200b"


def _publish_picture(client: TestClient, username: str, visibility: str) -> list[str]:
    """``username`` signs in, uploads a picture and publishes it; the paths of its files, display first."""
    client.cookies.clear()
    token = sign_in(client, username)
    upload = client.post(
        "/compose/upload",
        data={"csrf_token": token},
        files={"file": ("harbour.png", encode(gradient(96, 64), "PNG"), "image/png")},
        headers=BROWSER,
        follow_redirects=False,
    )
    assert upload.status_code == 303
    media_id = int(upload.headers["location"].rsplit("=", 1)[1])
    published = client.post(
        "/compose/pictures",
        data={"csrf_token": token, "media_ids": str(media_id), "caption": "harbour", "visibility": visibility},
        headers=BROWSER,
    )
    assert published.status_code == 200
    ((media,),) = query(client, select(Media).where(Media.id == media_id))
    return [f"/media/{key}" for key in (media.display_key, media.thumbnail_key, media.original_key)]


def _as(client: TestClient, username: str | None) -> None:
    client.cookies.clear()
    if username is not None:
        sign_in(client, username)


def test_w9_followers_only_media_goes_only_to_who_may_see_the_post_and_is_never_publicly_cached(
    client: TestClient, make_member: Callable[..., Account], peer: FakePeer
) -> None:
    # Given ana's followers-only picture, carl (a member who follows her), dora (a member who does not),
    # ben (a remote follower) and eve (a remote stranger)
    for name in ("ana", "carl", "dora"):
        make_member(name)
    act(client, actions.follow, "carl", f"{TEST_BASE_URL}/users/ana")
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    remote_follows(client, peer, ben, "ana")
    files = _publish_picture(client, "ana", Visibility.FOLLOWERS)
    for path in files:
        # Then ana and carl get each file, kept by no shared cache
        for name in ("ana", "carl"):
            _as(client, name)
            shown = client.get(path)
            assert shown.status_code == 200, (name, path)
            assert shown.headers["cache-control"] == "private, no-cache", (name, path)
        # And dora, signed in, gets the 404 of a missing file, even revalidating a copy she kept
        _as(client, "dora")
        etag = shown.headers["etag"]
        assert client.get(path).status_code == 404, path
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 404, path
        # And a signed fetch gets it only for an actor who may read the post
        _as(client, None)
        url = TEST_BASE_URL + path
        assert client.get(url, headers=peer.signed_get_headers(ben, url)).status_code == 200, path
        assert client.get(url, headers=peer.signed_get_headers(eve, url)).status_code == 404, path
        forged = peer.signed_get_headers(eve, url, key_id=ben.key_id)
        assert client.get(url, headers=forged).status_code == 404, path
        # And an unsigned request (a follower's server fetching the attachment, as Mastodon does) holds an
        # unguessable URL: it is served, privately
        anonymous = client.get(path)
        assert anonymous.status_code == 200 and anonymous.headers["cache-control"] == "private, no-cache", path
    # And her public and unlisted pictures stay for anyone, cacheable forever
    shared = _publish_picture(client, "ana", Visibility.PUBLIC) + _publish_picture(client, "ana", Visibility.UNLISTED)
    _as(client, "dora")
    for path in shared:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable", path


def test_w9_a_draft_picture_is_for_its_owner(client: TestClient, make_member: Callable[..., Account]) -> None:
    # Given ana's uploaded picture, not published yet
    make_member("ana")
    make_member("dora")
    token = sign_in(client, "ana")
    client.post(
        "/compose/upload",
        data={"csrf_token": token},
        files={"file": ("draft.png", encode(gradient(48, 48), "PNG"), "image/png")},
        headers=BROWSER,
    )
    ((key,),) = query(client, select(Media.display_key))
    # Then ana sees it, privately cached, and dora does not
    mine = client.get(f"/media/{key}")
    assert mine.status_code == 200 and mine.headers["cache-control"] == "private, no-cache"
    _as(client, "dora")
    assert client.get(f"/media/{key}").status_code == 404


def test_w9_nodeinfo_counts_public_and_unlisted_local_posts_only(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., object]
) -> None:
    make_member("ana")
    for visibility in Visibility:
        post_as("ana", caption=f"a {visibility} post", visibility=visibility)
    usage = client.get("/nodeinfo/2.1").json()["usage"]
    assert usage["localPosts"] == 2


def test_w9_direction_controls_and_invisible_characters_leave_remote_display_names(
    client: TestClient, make_member: Callable[..., Account], peer: FakePeer
) -> None:
    # Given a remote account whose name hides a right-to-left override, an isolate and a zero-width space
    zoe = peer.add_actor("zoe", name=f"Zo{ZWSP}e {RLO}elgoog{PDF} {LRI}x{PDI}\n\tadmin")
    make_member("ana")
    sign_in(client, "ana")
    # When ana looks her up, and opens her profile
    for page in (client.get(f"/search?q=@zoe@{peer.host}", headers=BROWSER), client.get(f"/@zoe@{peer.host}")):
        # Then the name is shown as plain text that reads the way it is stored
        assert page.status_code == 200
        assert "Zoe elgoog x admin" in page.text
        for hidden in (RLO, PDF, LRI, PDI, ZWSP):
            assert hidden not in page.text
    ((name,),) = query(client, select(Actor.display_name).where(Actor.ap_id == zoe.id))
    assert name == "Zoe elgoog x admin"


@pytest.mark.parametrize(
    "username",
    [
        f"ana{RLO}moc.evil",  # reads as "anaelive.com"
        "\u0430na",  # a Cyrillic "а"
        f"a{ZWSP}na",
        "ana@elsewhere.example",
        "ana bob",
    ],
)
def test_w9_a_remote_username_with_characters_no_username_has_is_refused(
    client: TestClient, make_member: Callable[..., Account], peer: FakePeer, username: str
) -> None:
    # Given a remote actor that calls itself by a name that would spoof another account's handle
    mallory = peer.add_actor("mallory", preferredUsername=username)
    make_member("ana")
    sign_in(client, "ana")
    # When ana looks it up by its id, nothing is stored or shown under that name
    page = client.get(f"/search?q={mallory.id}", headers=BROWSER)
    assert page.status_code == 200
    assert f"@{username}@" not in page.text and "Nothing found" in page.text
    assert query(client, select(Actor.id).where(Actor.ap_id == mallory.id)) == []


@pytest.mark.parametrize(
    "actor_id",
    [
        "https://ana@good.example/users/x",  # shown as @x@ana@good.example
        "https://\u0430pple.example/users/x",  # a raw Cyrillic host
        "https://good.example\u202e/users/x",
    ],
)
def test_w9_an_actor_whose_host_is_not_a_plain_host_name_is_refused(actor_id: str) -> None:
    document = {"id": actor_id, "type": "Person", "preferredUsername": "x", "inbox": f"{actor_id}/inbox"}
    with pytest.raises(InvalidDocumentError):
        actor_fields(document)

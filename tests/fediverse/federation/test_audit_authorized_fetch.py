"""Audit findings M2 and W6: with ``REVERIE_AUTHORIZED_FETCH=true`` no URL serves an ActivityStreams document
without the one check (a verified signature; no reader the owner blocks), whichever URL a peer asks at."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import select
from starlette.routing import Route
from starlette.testclient import TestClient

from fediverse.core.config import Settings
from fediverse.social import actions
from storage.models import Account, OutboxActivity, Visibility
from tests.conftest import TEST_BASE_URL
from tests.fediverse.federation.conftest import AS2, act, follow_remote, publish, query, remote_follows
from tests.peers import FakePeer

ANA = f"{TEST_BASE_URL}/users/ana"
HOST = TEST_BASE_URL.removeprefix("http://")


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    return make_settings(database_url, REVERIE_ALLOW_PRIVATE_ADDRESSES="true", REVERIE_AUTHORIZED_FETCH="true")


def _is_as2(response: object) -> bool:
    return response.headers.get("content-type", "").startswith("application/activity+json")  # type: ignore[attr-defined]


def test_m2_a_post_page_url_serves_the_note_only_to_a_signed_reader(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given an instance in authorized-fetch mode and ana's public post
    make_user("ana")
    ben = peer.add_actor("ben")
    post = publish(client, "ana", "signed eyes only")
    for url in (f"{TEST_BASE_URL}/@ana/{post.id}", f"{TEST_BASE_URL}/@ana@{HOST}/{post.id}"):
        # When a peer asks the post's page for ActivityStreams without a signature, it is told to sign,
        # exactly as at the note's id
        unsigned = client.get(url, headers=AS2)
        assert unsigned.status_code == 401, url
        assert "signed eyes only" not in unsigned.text
        # When it signs, it gets the note, not to be kept by shared caches
        signed = client.get(url, headers=peer.signed_get_headers(ben, url))
        assert signed.status_code == 200, url
        assert signed.json()["id"] == post.ap_id
        assert signed.headers["cache-control"].startswith("private")
    # And a browser still gets the page
    assert "signed eyes only" in client.get(f"/@ana/{post.id}").text


def test_m2_a_post_page_url_refuses_the_note_to_an_actor_the_author_blocks(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana blocks ben, and carl is a stranger
    make_user("ana")
    ben = peer.add_actor("ben")
    carl = peer.add_actor("carl", key_index=1)
    post = publish(client, "ana", "not for ben")
    act(client, actions.block, "ana", ben.id)
    for url in (post.ap_id, f"{TEST_BASE_URL}/@ana/{post.id}"):
        # When ben fetches it signed, at its id or at its page, he gets nothing
        refused = client.get(url, headers=peer.signed_get_headers(ben, url))
        assert refused.status_code == 404, url
        assert "not for ben" not in refused.text
        # And carl gets it
        assert client.get(url, headers=peer.signed_get_headers(carl, url)).status_code == 200, url


def test_m2_a_followers_only_note_at_its_page_url_follows_the_same_rule_as_at_its_id(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given a followers-only post, a remote follower ben and a stranger eve
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    remote_follows(client, peer, ben, "ana")
    post = publish(client, "ana", "for my followers", visibility=Visibility.FOLLOWERS)
    url = f"{TEST_BASE_URL}/@ana/{post.id}"
    # Then the page URL answers each reader as the note's id does
    assert client.get(url, headers=AS2).status_code == 401
    assert client.get(url, headers=peer.signed_get_headers(eve, url)).status_code == 404
    shown = client.get(url, headers=peer.signed_get_headers(ben, url))
    assert shown.status_code == 200 and shown.json()["to"] == [f"{ANA}/followers"]


def _activity_id(client: TestClient, kind: str) -> str:
    """The id of the (first) activity of ``kind`` that we sent."""
    statement = select(OutboxActivity.ap_id).where(OutboxActivity.type == kind).order_by(OutboxActivity.id)
    return str(query(client, statement)[0][0])


def _get_paths(client: TestClient, values: dict[str, str]) -> list[str]:
    """Every GET route of the app, its parameters filled from ``values`` (``1`` for any other)."""
    paths = []
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.methods and "GET" in route.methods:
            paths.append(route.path_format.format(**{name: values.get(name, "1") for name in route.param_convertors}))
    return paths


def test_m2_no_url_serves_activitystreams_to_an_unsigned_reader(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana with a post, a follow she sent (an activity with its own id) and a picture file
    make_user("ana", display_name="Ana Lima")
    ben = peer.add_actor("ben")
    post = publish(client, "ana", "signed eyes only")
    follow_remote(client, peer, "ana", ben)
    token = _activity_id(client, "Follow").rsplit("/", 1)[1]
    values = {
        "username": "ana",
        "handle": "ana",
        "post_id": str(post.id),
        "token": token,
        "which": "followers",
        "tag": "sea",
        "version": "2.1",
        "key": "ab/cd/" + "ab" * 32 + ".png",
        "variant": "display",
        "id": "1",
        "report_id": "1",
        "job_id": "1",
        "kind": "following",
        "slug": "ai-generated",
    }
    paths = _get_paths(client, values)
    assert f"/@ana/{post.id}" in paths and f"/users/ana/activities/{token}" in paths
    for path in paths:
        # When a peer asks any URL for ActivityStreams without a signature
        response = client.get(path, headers=AS2, follow_redirects=False)
        if not _is_as2(response):
            continue
        # Then only the documents a peer needs to check our signatures come back, without the profile, and
        # the FEP-4c96 label vocabulary (the same for everyone, naming no one)
        if path.startswith("/labels"):
            assert "ana" not in response.text, path
            continue
        assert path in ("/actor", "/users/ana", "/@ana"), path
        if path != "/actor":
            assert "name" not in response.json() and "Ana Lima" not in response.text, path
        assert "signed eyes only" not in response.text, path


def test_w6_an_actor_the_owner_blocks_gets_none_of_her_collections_or_posts(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana, who follows ben and carl, posts, and then blocks ben
    make_user("ana", display_name="Ana Lima")
    ben = peer.add_actor("ben")
    carl = peer.add_actor("carl", key_index=1)
    follow_remote(client, peer, "ana", carl)
    post = publish(client, "ana", "what ana posts")
    act(client, actions.block, "ana", ben.id)
    urls = [
        f"{ANA}/outbox",
        f"{ANA}/outbox?page=true",
        f"{ANA}/followers",
        f"{ANA}/followers?page=1",
        f"{ANA}/following",
        f"{ANA}/following?page=1",
        f"{ANA}/collections/featured",
        f"{ANA}/collections/tags",
        post.ap_id,
        f"{post.ap_id}/activity",
        f"{post.ap_id}/replies",
        _activity_id(client, "Follow"),
    ]
    for url in urls:
        # When ben, whom she blocks, signs a fetch, he is refused and learns nothing of hers
        refused = client.get(url, headers=peer.signed_get_headers(ben, url))
        assert refused.status_code == 404, url
        assert not _is_as2(refused) and "what ana posts" not in refused.text and carl.id not in refused.text, url
        # And carl, whom she does not block, is served
        assert client.get(url, headers=peer.signed_get_headers(carl, url)).status_code == 200, url
    # And ben still gets her key and inboxes (to check what she signs), but not her profile
    for url in (ANA, f"{TEST_BASE_URL}/@ana"):
        document = client.get(url, headers=peer.signed_get_headers(ben, url)).json()
        assert document["publicKey"]["owner"] == ANA and "name" not in document and "summary" not in document
        assert client.get(url, headers=peer.signed_get_headers(carl, url)).json()["name"] == "Ana Lima"


def test_m2_the_full_actor_document_is_never_kept_by_a_shared_cache_under_authorized_fetch(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given a signed reader gets ana's whole profile
    make_user("ana", display_name="Ana Lima")
    ben = peer.add_actor("ben")
    full = client.get(ANA, headers=peer.signed_get_headers(ben, ANA))
    assert full.json()["name"] == "Ana Lima"
    # Then no shared cache may hand it to the next, unsigned, reader
    assert full.headers["cache-control"].startswith("private")
    assert "Signature" in full.headers["vary"]
    assert not re.search(r"\bpublic\b", full.headers["cache-control"])

"""Pinned posts over ActivityPub: the actor's ``featured`` collection, and ``Add`` / ``Remove`` sent to
followers' servers as Mastodon sends them — checked by a peer server that fetches the collection the way
Mastodon's ``FetchFeaturedCollectionService`` does (signed GETs: the actor, its ``featured``, each item
by its id, which must be attributed to the actor), and expanded with JSON-LD as Mastodon reads the terms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pyld import jsonld
from starlette.testclient import TestClient

from fediverse.core.errors import UnprocessableEntity
from fediverse.social import actions
from storage.models import Account, Visibility
from tests.conftest import TEST_BASE_URL
from tests.fediverse.federation.conftest import act, drain, publish, remote_follows
from tests.ld_reference import reference_loader
from tests.peers import FakePeer, PeerActor

ANA = f"{TEST_BASE_URL}/users/ana"
FEATURED = f"{ANA}/collections/featured"
TOOT_FEATURED = "http://joinmastodon.org/ns#featured"


def peer_fetch(client: TestClient, peer: FakePeer, actor: PeerActor, url: str) -> dict[str, Any]:
    response = client.get(url.removeprefix(TEST_BASE_URL), headers=peer.signed_get_headers(actor, url))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/activity+json")
    return response.json()  # type: ignore[no-any-return]


def mastodon_reads_featured(client: TestClient, peer: FakePeer, reader: PeerActor, actor_id: str) -> list[str]:
    """What Mastodon's ``FetchFeaturedCollectionService`` keeps: the actor's ``featured`` (through JSON-LD,
    as ``toot:featured``), its ``orderedItems`` (or those of its ``first`` page), each item a ``Note`` or
    an id, fetched by its id and kept only when attributed to the actor."""
    actor = peer_fetch(client, peer, reader, actor_id)
    (expanded,) = jsonld.expand(actor, {"documentLoader": reference_loader})
    (featured,) = expanded[TOOT_FEATURED]
    collection = peer_fetch(client, peer, reader, featured["@id"])
    if "first" in collection:
        collection = peer_fetch(client, peer, reader, collection["first"])
    assert collection["type"] in ("OrderedCollection", "OrderedCollectionPage")
    kept = []
    for item in collection["orderedItems"]:
        assert isinstance(item, str) or item["type"] == "Note"
        uri = item if isinstance(item, str) else item["id"]
        note = peer_fetch(client, peer, reader, uri)
        if note["attributedTo"] == actor_id:
            kept.append(uri)
    return kept


def test_pins_reach_followers_and_the_featured_collection(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    mia = peer.add_actor("mia")
    peer.trust(client.get("/users/ana", headers={"Accept": "application/activity+json"}).json())
    remote_follows(client, peer, mia, "ana")
    first, second = publish(client, "ana", "first light"), publish(client, "ana", "second light")
    assert mastodon_reads_featured(client, peer, mia, ANA) == []

    act(client, actions.pin, "ana", first.ap_id)
    act(client, actions.pin, "ana", second.ap_id)
    drain(client)
    adds = peer.activities("Add")
    # One Add per pin (the delivery queue sends them concurrently, so in either order)
    assert sorted(add["object"] for add in adds) == sorted([first.ap_id, second.ap_id])
    for add in adds:
        assert add["actor"] == ANA and add["target"] == FEATURED and add["id"].startswith(f"{ANA}/")
    assert all(post.signature_ok for post in peer.posts() if post.activity["type"] == "Add")
    # Newest pin first, the notes inline as Mastodon serves them
    collection = peer_fetch(client, peer, mia, FEATURED)
    assert collection["id"] == FEATURED and collection["totalItems"] == 2
    assert [note["content"] for note in collection["orderedItems"]] == ["<p>second light</p>", "<p>first light</p>"]
    assert mastodon_reads_featured(client, peer, mia, ANA) == [second.ap_id, first.ap_id]

    act(client, actions.unpin, "ana", second.ap_id)
    drain(client)
    (remove,) = peer.activities("Remove")
    assert remove["object"] == second.ap_id and remove["target"] == FEATURED and remove["actor"] == ANA
    (expanded,) = jsonld.expand(remove, {"documentLoader": reference_loader})
    assert expanded["@type"] == ["https://www.w3.org/ns/activitystreams#Remove"]
    assert expanded["https://www.w3.org/ns/activitystreams#target"] == [{"@id": FEATURED}]
    assert mastodon_reads_featured(client, peer, mia, ANA) == [first.ap_id]

    # Pinning again or unpinning what is not pinned sends nothing; a deleted post leaves the collection
    act(client, actions.pin, "ana", first.ap_id)
    act(client, actions.unpin, "ana", second.ap_id)
    drain(client)
    assert len(peer.activities("Add")) == 2 and len(peer.activities("Remove")) == 1
    act(client, actions.delete_post, "ana", first.ap_id)
    assert mastodon_reads_featured(client, peer, mia, ANA) == []


def test_followers_only_posts_are_never_featured(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    mia = peer.add_actor("mia")
    remote_follows(client, peer, mia, "ana")
    quiet = publish(client, "ana", "for friends", visibility=Visibility.FOLLOWERS)
    with pytest.raises(UnprocessableEntity, match="cannot be pinned"):
        act(client, actions.pin, "ana", quiet.ap_id)
    drain(client)
    assert peer.activities("Add") == []
    assert peer_fetch(client, peer, mia, FEATURED)["orderedItems"] == []

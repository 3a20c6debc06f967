"""Following across servers, with a fake Mastodon-shaped peer on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from storage.models import Account
from tests.conftest import TEST_BASE_URL
from tests.fediverse.federation.conftest import drain, send_activity
from tests.peers import FakePeer

AS2 = {"Accept": "application/activity+json"}


def test_a_remote_follow_is_accepted_and_the_follower_listed(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given a local user and a remote actor
    make_user("ana")
    ben = peer.add_actor("ben")
    ana_document = client.get("/users/ana", headers=AS2).json()
    peer.trust(ana_document)
    follow = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{peer.base_url}/follows/1",
        "type": "Follow",
        "actor": ben.id,
        "object": ana_document["id"],
    }
    # When the remote actor follows her
    assert send_activity(client, peer, ben, follow, path="/users/ana/inbox") == 202
    drain(client)
    # Then the peer receives a signed Accept embedding its Follow
    (accept,) = peer.activities("Accept")
    assert accept["actor"] == ana_document["id"]
    assert accept["object"]["id"] == follow["id"]
    assert accept["object"]["actor"] == ben.id
    assert all(post.signature_ok for post in peer.posts())
    assert peer.posts()[0].path == "/users/ben/inbox"
    # And ben is listed as a follower
    followers = client.get("/users/ana/followers?page=1", headers=AS2).json()
    assert followers["orderedItems"] == [ben.id]
    # When the same Follow arrives again (a peer re-sending after a key change), it is accepted again
    assert send_activity(client, peer, ben, {**follow, "id": f"{peer.base_url}/follows/2"}, path="/inbox") == 202
    drain(client)
    assert len(peer.activities("Accept")) == 2
    assert client.get("/users/ana/followers", headers=AS2).json()["totalItems"] == 1
    # When ben undoes the follow, he is no longer a follower
    undo = {
        "id": f"{peer.base_url}/undo/1",
        "type": "Undo",
        "actor": ben.id,
        "object": {**follow, "id": f"{peer.base_url}/follows/2"},
    }
    assert send_activity(client, peer, ben, undo) == 202
    drain(client)
    assert client.get("/users/ana/followers", headers=AS2).json()["totalItems"] == 0


def test_a_replayed_activity_is_stored_once(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    ben = peer.add_actor("ben")
    peer.trust(client.get("/users/ana", headers=AS2).json())
    follow = {
        "id": f"{peer.base_url}/follows/9",
        "type": "Follow",
        "actor": ben.id,
        "object": f"{TEST_BASE_URL}/users/ana",
    }
    assert send_activity(client, peer, ben, follow) == 202
    assert send_activity(client, peer, ben, follow) == 202
    assert drain(client) >= 1
    assert len(peer.activities("Accept")) == 1

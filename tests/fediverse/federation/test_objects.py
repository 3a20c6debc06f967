"""Every id we mint answers: notes, their Create, their replies, other activities; deleted ones are 410.

Peers dereference what we send; a non-public note is shown only to a signed request from an actor
allowed to read it, and to anyone else looks exactly like a note that never existed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from fediverse.social import actions
from fediverse.web.activitypub import objects
from storage.models import Account, Visibility
from tests.conftest import TEST_BASE_URL
from tests.fediverse.federation.conftest import (
    AS2,
    PUBLIC,
    act,
    create_of,
    deliver,
    drain,
    follow_remote,
    known_actor,
    publish,
    remote_follows,
    remote_note,
)
from tests.peers import FakePeer

BROWSER = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}


def test_a_public_note_is_served_at_its_id_and_browsers_go_to_its_page(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    # Given a public post
    make_user("ana")
    post = publish(client, "ana", "harbour at dawn #sea")
    # When an ActivityPub client fetches its id (unsigned)
    response = client.get(post.ap_id, headers=AS2)
    # Then it gets the Note, addressed to the full Public IRI
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/activity+json")
    assert "Accept" in response.headers["vary"]
    note = response.json()
    assert note["@context"][0] == "https://www.w3.org/ns/activitystreams"
    assert note["id"] == post.ap_id
    assert note["type"] == "Note"
    assert note["attributedTo"] == f"{TEST_BASE_URL}/users/ana"
    assert note["to"] == [PUBLIC]
    assert note["cc"] == [f"{TEST_BASE_URL}/users/ana/followers"]
    assert "harbour at dawn" in note["content"]
    assert note["replies"]["first"]["next"] == f"{post.ap_id}/replies?page=true"
    # And its Create is served at the id Mastodon gives it
    create = client.get(f"{post.ap_id}/activity", headers=AS2).json()
    assert create["id"] == f"{post.ap_id}/activity"
    assert create["type"] == "Create"
    assert create["object"]["id"] == post.ap_id
    # When a browser opens the id, it is sent to the post's page
    redirect = client.get(post.ap_id, headers=BROWSER, follow_redirects=False)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == f"{TEST_BASE_URL}/@ana/{post.id}"


def test_a_deleted_note_answers_410_with_a_tombstone(client: TestClient, make_user: Callable[..., Account]) -> None:
    # Given a post that its author deleted
    make_user("ana")
    post = publish(client, "ana", "soon gone")
    act(client, actions.delete_post, "ana", post.ap_id)
    # When its id, its Create and its replies are fetched
    for url, former_type in (
        (post.ap_id, "Note"),
        (f"{post.ap_id}/activity", "Create"),
        (f"{post.ap_id}/replies", "Collection"),
    ):
        response = client.get(url, headers=AS2)
        # Then each answers 410 with a Tombstone naming what it was
        assert response.status_code == 410, url
        tombstone = response.json()
        assert tombstone["type"] == "Tombstone"
        assert tombstone["id"] == url
        assert tombstone["formerType"] == former_type
        assert "soon gone" not in response.text


def test_unknown_and_foreign_ids_are_404(client: TestClient, make_user: Callable[..., Account]) -> None:
    make_user("ana")
    # Given ana's post
    make_user("ben")
    post = publish(client, "ana", "mine")
    # Then ids that do not exist, or that name it under another account, are 404; a bad page is 400
    assert client.get("/users/ana/statuses/123456789", headers=AS2).status_code == 404
    assert client.get(f"/users/ben/statuses/{post.id}", headers=AS2).status_code == 404  # the id under another name
    assert client.get("/users/ana/activities/nothing-here", headers=AS2).status_code == 404
    assert client.get(f"{post.ap_id}/replies?min_id=abc", headers=AS2).status_code == 400


def test_a_followers_only_note_is_shown_only_to_a_signed_follower(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana, a remote follower ben and a remote stranger eve
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    remote_follows(client, peer, ben, "ana")
    post = publish(client, "ana", "for my followers", visibility=Visibility.FOLLOWERS)
    missing = f"{TEST_BASE_URL}/users/ana/statuses/{post.id + 1}"
    # When nobody signs, or eve signs, or ben's signature is forged with eve's key
    unsigned = client.get(post.ap_id, headers=AS2)
    by_stranger = client.get(post.ap_id, headers=peer.signed_get_headers(eve, post.ap_id))
    forged = client.get(post.ap_id, headers=peer.signed_get_headers(eve, post.ap_id, key_id=ben.key_id))
    # Then each gets the same 404 as a note that does not exist
    never_existed = client.get(missing, headers=AS2)
    for response in (unsigned, by_stranger, forged):
        assert response.status_code == 404
        assert response.json() == never_existed.json()
    # When ben fetches it signed, he gets it, privately cached
    response = client.get(post.ap_id, headers=peer.signed_get_headers(ben, post.ap_id))
    assert response.status_code == 200
    assert response.json()["to"] == [f"{TEST_BASE_URL}/users/ana/followers"]
    assert response.headers["cache-control"].startswith("private")
    assert "Signature" in response.headers["vary"]


def test_a_direct_note_is_shown_only_to_the_people_it_mentions(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given a direct note to eve, and ben who follows ana but is not mentioned
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    remote_follows(client, peer, ben, "ana")
    post = publish(client, "ana", "just for you", visibility=Visibility.DIRECT, mentions=[known_actor(client, eve)])
    # Then eve may read it and ben may not
    assert client.get(post.ap_id, headers=peer.signed_get_headers(eve, post.ap_id)).status_code == 200
    assert client.get(post.ap_id, headers=peer.signed_get_headers(ben, post.ap_id)).status_code == 404
    assert client.get(f"{post.ap_id}/activity", headers=peer.signed_get_headers(ben, post.ap_id)).status_code == 404


def test_replies_are_listed_and_paged(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a post with three public replies (two local, one from a peer) and a followers-only one
    monkeypatch.setattr(objects, "REPLIES_PAGE_SIZE", 2)
    make_user("ana")
    make_user("bob")
    ben = peer.add_actor("ben")
    follow_remote(client, peer, "ana", ben)
    post = publish(client, "ana", "what do you see?")
    first = publish(client, "ana", "a boat", in_reply_to=post)
    hidden = publish(client, "bob", "secret reply", in_reply_to=post, visibility=Visibility.FOLLOWERS)
    remote_reply = remote_note(ben, 1, "<p>a lighthouse</p>", inReplyTo=post.ap_id)
    deliver(client, peer, ben, create_of(ben, remote_reply))
    last = publish(client, "bob", "a gull", in_reply_to=post, visibility=Visibility.UNLISTED)
    # When a peer reads the replies collection
    collection = client.get(f"{post.ap_id}/replies", headers=AS2).json()
    # Then the first page holds the oldest two, and its next page the rest
    assert collection["type"] == "Collection"
    assert collection["id"] == f"{post.ap_id}/replies"
    page = collection["first"]
    assert page["type"] == "CollectionPage"
    assert page["partOf"] == f"{post.ap_id}/replies"
    assert page["items"] == [first.ap_id, remote_reply["id"]]
    second = client.get(page["next"], headers=AS2).json()
    assert second["items"] == [last.ap_id]
    assert "next" not in second
    assert hidden.ap_id not in collection["first"]["items"] + second["items"]


def test_a_boost_is_served_until_it_is_undone(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana boosted a peer's public note
    make_user("ana")
    ben = peer.add_actor("ben")
    follow_remote(client, peer, "ana", ben)
    note_id = remote_note(ben, 7)["id"]
    peer.add_object(remote_note(ben, 7))
    act(client, actions.boost, "ana", note_id)
    drain(client)
    (announce,) = peer.activities("Announce")
    # Then its id answers with the Announce she sent, to anyone
    served = client.get(announce["id"], headers=AS2)
    assert served.status_code == 200
    unsigned = {key: value for key, value in announce.items() if key != "signature"}  # LD-signed when sent (0058)
    assert served.json() == unsigned
    # When she takes the boost back, the id answers 410
    act(client, actions.unboost, "ana", note_id)
    gone = client.get(announce["id"], headers=AS2)
    assert gone.status_code == 410
    assert gone.json()["formerType"] == "Announce"


def test_a_follow_is_shown_to_its_followee_only(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    # Given ana's Follow of ben
    follow = follow_remote(client, peer, "ana", ben)
    # Then only ben, signed, may read it
    assert client.get(follow["id"], headers=AS2).status_code == 404
    assert client.get(follow["id"], headers=peer.signed_get_headers(eve, follow["id"])).status_code == 404
    served = client.get(follow["id"], headers=peer.signed_get_headers(ben, follow["id"]))
    assert served.status_code == 200
    assert served.json()["object"] == ben.id

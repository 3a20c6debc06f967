"""What our users' actions send: the activity Mastodon expects, signed, to the right inbox, addressed
right for its visibility, and readable by an independent implementation (active-boxes).

The peers check every signature with pyhttpsig against the key in our actor document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from fediverse.social import actions
from fediverse.social.profiles import ProfileChanges
from storage.models import Account, Follow, FollowState, Visibility
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
    query,
    remote_follows,
    remote_note,
)
from tests.interop.readers import reading_with_active_boxes
from tests.peers import FakePeer, PeerActor, ReceivedPost

ANA = f"{TEST_BASE_URL}/users/ana"
FOLLOWERS = f"{ANA}/followers"
#: Followers' shared inbox on one server, zed's own inbox on the other, and mia's (mentioned) own inbox.
EVERYONE = {("peer", "/inbox"), ("other", "/users/zed/inbox"), ("other", "/users/mia/inbox")}


@dataclass
class World:
    """ana here; ben and eve on a Mastodon-like server with a shared inbox; zed (no shared inbox, like
    GoToSocial) and mia on another server. ben, eve and zed follow ana; mia does not."""

    client: TestClient
    peer: FakePeer
    other: FakePeer
    ben: PeerActor
    eve: PeerActor
    zed: PeerActor
    mia: PeerActor

    def received(self) -> list[tuple[str, ReceivedPost]]:
        """(server, post) for every POST since the last ``forget``; server is ``peer`` or ``other``."""
        return [("peer", post) for post in self.peer.posts()] + [("other", post) for post in self.other.posts()]

    def forget(self) -> None:
        self.peer.received.clear()
        self.other.received.clear()

    def deliveries(self, kind: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(server, inbox path, activity) of each POST of ``kind``, checking what every POST must be."""
        found = []
        for server, post in self.received():
            assert post.signature_ok, f"{server} {post.path}: signature not valid"
            assert post.headers["content-type"] == "application/activity+json"
            if post.activity["type"] == kind:
                found.append((server, post.path, post.activity))
        return found


@pytest.fixture
def world(client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Callable[..., Account]) -> World:
    make_user("ana")
    document = client.get("/users/ana", headers=AS2).json()
    peer.trust(document)
    other_peer.trust(document)
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    zed = other_peer.add_actor("zed", key_index=2, endpoints={})
    mia = other_peer.add_actor("mia", key_index=3, endpoints={})
    for server, follower in ((peer, ben), (peer, eve), (other_peer, zed)):
        remote_follows(client, server, follower, "ana")
    built = World(client, peer, other_peer, ben, eve, zed, mia)
    built.forget()
    return built


@pytest.fixture
def reader(client: TestClient) -> Iterator[Callable[[dict[str, Any]], Any]]:
    """active-boxes' ``parse_activity``: it must accept every activity we send."""
    with reading_with_active_boxes(client) as parse:
        yield parse


# -- posts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("visibility", "to", "cc", "inboxes"),
    [
        (Visibility.PUBLIC, [PUBLIC], [FOLLOWERS, "MIA"], EVERYONE),
        (Visibility.UNLISTED, [FOLLOWERS], [PUBLIC, "MIA"], EVERYONE),
        (Visibility.FOLLOWERS, [FOLLOWERS], ["MIA"], EVERYONE),
        (Visibility.DIRECT, ["MIA"], [], {("other", "/users/mia/inbox")}),
    ],
)  # fmt: skip
def test_a_post_reaches_its_audience_addressed_for_its_visibility(
    world: World,
    reader: Callable[[dict[str, Any]], Any],
    visibility: str,
    to: list[str],
    cc: list[str],
    inboxes: set[tuple[str, str]],
) -> None:
    # Given ana's followers (two sharing a server) and mia, whom she mentions
    mia = known_actor(world.client, world.mia)
    # When ana publishes with this visibility
    post = publish(world.client, "ana", "hello @mia", visibility=visibility, mentions=[mia])
    drain(world.client)
    # Then each server gets one Create per inbox: followers grouped by shared inbox, mia at her own
    creates = world.deliveries("Create")
    assert {(server, path) for server, path, _ in creates} == inboxes
    assert len(creates) == len(inboxes)
    # And the Create and its Note carry the addressing Mastodon uses, with the full Public IRI
    expected_to = [world.mia.id if item == "MIA" else item for item in to]
    expected_cc = [world.mia.id if item == "MIA" else item for item in cc]
    for _, _, create in creates:
        assert create["id"] == f"{post.ap_id}/activity"
        assert create["actor"] == ANA
        assert (create["to"], create["cc"]) == (expected_to, expected_cc)
        note = create["object"]
        assert (note["id"], note["attributedTo"]) == (post.ap_id, ANA)
        assert (note["to"], note["cc"]) == (expected_to, expected_cc)
        assert {"type": "Mention", "href": world.mia.id, "name": f"@mia@{world.other.host}"} in note["tag"]
        assert reader(create).id == create["id"]
    # And what was sent is what the ids serve (to a reader allowed to see it), less the Linked Data signature
    # a public or unlisted delivery carries (decision 0058)
    served = world.client.get(
        f"{post.ap_id}/activity", headers=world.other.signed_get_headers(world.mia, f"{post.ap_id}/activity")
    )
    sent = creates[0][2]
    assert ("signature" in sent) == (visibility in (Visibility.PUBLIC, Visibility.UNLISTED))
    assert served.json() == {key: value for key, value in sent.items() if key != "signature"}


def test_a_reply_addresses_the_author_it_answers(world: World, reader: Callable[[dict[str, Any]], Any]) -> None:
    # Given ana follows mia, whose note we stored
    follow_remote(world.client, world.other, "ana", world.mia)
    parent = remote_note(world.mia, 1, "<p>q?</p>")
    note_id = parent["id"]
    deliver(world.client, world.other, world.mia, create_of(world.mia, parent))
    world.forget()
    # When ana replies followers-only without typing a mention
    stored = act(world.client, actions.find_post, note_id)
    reply = publish(world.client, "ana", "a!", visibility=Visibility.FOLLOWERS, in_reply_to=stored)
    drain(world.client)
    # Then mia is addressed, gets it at her own inbox, and can read it
    (create,) = [item for server, path, item in world.deliveries("Create") if path == "/users/mia/inbox"]
    assert create["object"]["inReplyTo"] == note_id
    assert create["object"]["cc"] == [world.mia.id]
    assert reader(create).id == create["id"]
    headers = world.other.signed_get_headers(world.mia, reply.ap_id)
    assert world.client.get(reply.ap_id, headers=headers).status_code == 200


def test_a_server_with_a_shared_inbox_gets_one_copy_of_a_post_however_many_of_its_people_it_is_for(
    world: World,
) -> None:
    # Given kim, who does not follow ana, on the server of ben and eve (followers, with a shared inbox)
    kim = world.peer.add_actor("kim", key_index=4)
    bens_note = _store_bens_note(world)
    mentioned = [known_actor(world.client, actor) for actor in (world.ben, kim, world.mia)]
    # When ana replies to ben's post mentioning ben, kim and mia, edits it and deletes it
    parent = act(world.client, actions.find_post, bens_note)
    reply = publish(world.client, "ana", "@ben @kim @mia look", mentions=mentioned, in_reply_to=parent)
    act(world.client, partial(actions.edit_post, caption="@ben @kim @mia look again"), "ana", reply.ap_id)
    act(world.client, actions.delete_post, "ana", reply.ap_id)
    drain(world.client)
    # Then each activity reaches ben's server once, at its shared inbox; mia's server (no shared inbox)
    # at her own inbox and zed's, as before
    for kind in ("Create", "Update", "Delete"):
        assert sorted((server, path) for server, path, _ in world.deliveries(kind)) == [
            ("other", "/users/mia/inbox"),
            ("other", "/users/zed/inbox"),
            ("peer", "/inbox"),
        ], kind
    (create,) = [item for server, _, item in world.deliveries("Create") if server == "peer"]
    assert {world.ben.id, kim.id} <= set(create["cc"])  # still addressed to each of them


def test_edit_and_delete_reach_everyone_who_received_the_post(
    world: World, reader: Callable[[dict[str, Any]], Any]
) -> None:
    # Given a public post that mentions mia
    post = publish(world.client, "ana", "first draft @mia", mentions=[known_actor(world.client, world.mia)])
    drain(world.client)
    received = {(server, path) for server, path, _ in world.deliveries("Create")}
    world.forget()
    # When ana edits it, every inbox gets Update{Note} with the new text and an ``updated`` time
    act(world.client, partial(actions.edit_post, caption="second draft"), "ana", post.ap_id)
    drain(world.client)
    updates = world.deliveries("Update")
    assert {(server, path) for server, path, _ in updates} == received
    update = updates[0][2]
    assert update["object"]["id"] == post.ap_id
    assert "second draft" in update["object"]["content"]
    assert "updated" in update["object"]
    assert (update["to"], update["cc"]) == ([PUBLIC], [FOLLOWERS, world.mia.id])
    assert reader(update).id == update["id"]
    assert update["signature"]["type"] == "RsaSignature2017"  # only deliveries carry it (decision 0058)
    assert world.client.get(update["id"], headers=AS2).json() == {k: v for k, v in update.items() if k != "signature"}
    world.forget()
    # When she deletes it, every inbox gets Delete{Tombstone} with Mastodon's id shape
    act(world.client, actions.delete_post, "ana", post.ap_id)
    drain(world.client)
    deletes = world.deliveries("Delete")
    assert {(server, path) for server, path, _ in deletes} == received
    delete = deletes[0][2]
    assert delete["id"] == f"{post.ap_id}#delete"
    assert delete["object"] == {"id": post.ap_id, "type": "Tombstone"}
    assert reader(delete).id == delete["id"]


# -- follows -----------------------------------------------------------------------------------


def test_follow_and_unfollow(world: World, reader: Callable[[dict[str, Any]], Any]) -> None:
    # When ana follows mia (who is on a server without shared inboxes)
    act(world.client, actions.follow, "ana", world.mia.id)
    drain(world.client)
    # Then mia's inbox gets a Follow whose id we serve to her
    ((server, path, follow),) = world.deliveries("Follow")
    assert (server, path) == ("other", "/users/mia/inbox")
    assert (follow["actor"], follow["object"]) == (ANA, world.mia.id)
    assert reader(follow).id == follow["id"]
    served = world.client.get(follow["id"], headers=world.other.signed_get_headers(world.mia, follow["id"]))
    assert served.json() == follow
    # When ana unfollows, mia gets an Undo embedding that same Follow
    act(world.client, actions.unfollow, "ana", world.mia.id)
    drain(world.client)
    ((_, path, undo),) = world.deliveries("Undo")
    assert path == "/users/mia/inbox"
    assert undo["object"] == {key: follow[key] for key in ("id", "type", "actor", "object")}
    assert undo["to"] == [world.mia.id]
    assert reader(undo).id == undo["id"]


def test_approving_and_rejecting_follow_requests(world: World, reader: Callable[[dict[str, Any]], Any]) -> None:
    # Given ana approves her followers by hand
    act(
        world.client,
        actions.update_profile,
        "ana",
        ProfileChanges(display_name="", bio="", manually_approves_followers=True),
    )
    drain(world.client)
    world.forget()
    # When mia and a second account ask to follow her, nothing is answered yet
    request = remote_follows(world.client, world.other, world.mia, "ana")
    kai = world.peer.add_actor("kai", key_index=4)
    kai_request = remote_follows(world.client, world.peer, kai, "ana")
    assert world.received() == []
    # When ana approves mia, mia gets an Accept embedding her Follow as she sent it
    act(world.client, partial(actions.answer_follow_request, approve=True), "ana", world.mia.id)
    act(world.client, partial(actions.answer_follow_request, approve=False), "ana", kai.id)
    drain(world.client)
    ((_, path, accept),) = world.deliveries("Accept")
    assert path == "/users/mia/inbox"
    assert accept["actor"] == ANA
    assert accept["object"] == {key: request[key] for key in ("id", "type", "actor", "object")}
    ((_, kai_path, reject),) = world.deliveries("Reject")
    assert kai_path == "/users/kai/inbox"
    assert reject["object"]["id"] == kai_request["id"]
    for activity in (accept, reject):
        assert reader(activity).id == activity["id"]
    states = query(world.client, select(Follow.state).where(Follow.state == FollowState.ACCEPTED))
    assert len(states) == 4  # ben, eve, zed and now mia


# -- likes and boosts --------------------------------------------------------------------------


def _store_bens_note(world: World) -> str:
    note = remote_note(world.ben, 42, "<p>sunset</p>")
    note_id = note["id"]
    world.peer.add_object(note)
    follow_remote(world.client, world.peer, "ana", world.ben)
    world.forget()
    return note_id


def test_like_and_unlike(world: World, reader: Callable[[dict[str, Any]], Any]) -> None:
    # When ana likes ben's note, ben's own inbox gets the Like
    note_id = _store_bens_note(world)
    act(world.client, actions.like, "ana", note_id)
    drain(world.client)
    ((_, path, like),) = world.deliveries("Like")
    assert path == "/users/ben/inbox"
    assert (like["actor"], like["object"]) == (ANA, note_id)
    assert reader(like).id == like["id"]
    # When she takes it back, he gets an Undo embedding it
    act(world.client, actions.unlike, "ana", note_id)
    drain(world.client)
    ((_, _, undo),) = world.deliveries("Undo")
    assert undo["object"] == {"id": like["id"], "type": "Like", "actor": ANA, "object": note_id}
    assert reader(undo).id == undo["id"]


def test_boost_and_unboost(world: World, reader: Callable[[dict[str, Any]], Any]) -> None:
    # When ana boosts ben's note
    note_id = _store_bens_note(world)
    act(world.client, actions.boost, "ana", note_id)
    drain(world.client)
    announces = world.deliveries("Announce")
    # Followers get it through their shared inbox, and so does ben, the author: one copy for his server
    assert sorted((server, path) for server, path, _ in announces) == [
        ("other", "/users/zed/inbox"),
        ("peer", "/inbox"),
    ]
    announce = announces[0][2]
    assert announce["object"] == note_id
    assert (announce["to"], announce["cc"]) == ([PUBLIC], [world.ben.id, FOLLOWERS])
    assert "published" in announce
    assert reader(announce).id == announce["id"]
    world.forget()
    # When she takes it back, the same inboxes get an Undo embedding it
    act(world.client, actions.unboost, "ana", note_id)
    drain(world.client)
    undos = world.deliveries("Undo")
    assert len(undos) == 2
    assert undos[0][2]["object"]["id"] == announce["id"]
    assert reader(undos[0][2]).id == undos[0][2]["id"]


# -- profile -----------------------------------------------------------------------------------


def test_a_profile_update_reaches_followers_and_followees(
    world: World, reader: Callable[[dict[str, Any]], Any]
) -> None:
    # Given ana also follows mia (who does not follow her)
    follow_remote(world.client, world.other, "ana", world.mia)
    world.forget()
    # When she changes her name and bio
    act(
        world.client,
        actions.update_profile,
        "ana",
        ProfileChanges(display_name="Ana Lima", bio="paints #harbours", manually_approves_followers=False),
    )
    drain(world.client)
    # Then followers' servers and mia's get one Update{Person} each
    updates = world.deliveries("Update")
    assert {(server, path) for server, path, _ in updates} == {
        ("peer", "/inbox"),
        ("other", "/users/zed/inbox"),
        ("other", "/users/mia/inbox"),
    }
    update = updates[0][2]
    assert update["actor"] == ANA
    assert (update["to"], update["cc"]) == ([PUBLIC], [FOLLOWERS])
    person = update["object"]
    assert (person["id"], person["type"], person["name"]) == (ANA, "Person", "Ana Lima")
    assert "harbours" in person["summary"]
    assert person["publicKey"]["id"] == f"{ANA}#main-key"
    assert reader(update).id == update["id"]
    # And the actor document says the same
    assert world.client.get("/users/ana", headers=AS2).json()["name"] == "Ana Lima"

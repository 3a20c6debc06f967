"""Audit findings on incoming federation trust: whose word an embedded object is (H1), and whose an
activity id is (W3). Two real peers sign everything: ``peer`` is the sender, ``other_peer`` the third
server whose objects the sender tries to speak for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from storage.models import (
    Account,
    Actor,
    Announce,
    DeletedObject,
    InboxItem,
    Like,
    Mention,
    Post,
    Visibility,
    WorkState,
)
from tests.conftest import TEST_BASE_URL
from tests.fediverse.federation.conftest import (
    create_of,
    deliver,
    drain,
    follow_remote,
    publish,
    query,
    remote_note,
    send_activity,
)
from tests.peers import FakePeer, PeerActor

ANA = f"{TEST_BASE_URL}/users/ana"


def posts(client: TestClient) -> dict[str, str]:
    """ap_id -> content of every stored post."""
    return {row[0]: row[1] for row in query(client, select(Post.ap_id, Post.content_html))}


def last_outcome(client: TestClient) -> tuple[str, str, str | None]:
    row = query(client, select(InboxItem.type, InboxItem.state, InboxItem.last_error).order_by(InboxItem.id.desc()))[0]
    return row[0], row[1], row[2]


def fetched_paths(server: FakePeer) -> list[str]:
    return [get.path for get in server.fetched]


def dm_to_ana(author: PeerActor, number: int, content: str) -> dict[str, Any]:
    """A note addressed only to ana, mentioning her: a direct message, as Mastodon writes one."""
    return remote_note(
        author,
        number,
        content,
        to=[ANA],
        cc=[],
        tag=[{"type": "Mention", "href": ANA, "name": "@ana"}],
    )


def announce_of(actor: PeerActor, obj: dict[str, Any] | str, number: int) -> dict[str, Any]:
    return {
        "id": f"{actor.id}/statuses/{number}/activity",
        "type": "Announce",
        "actor": actor.id,
        "object": obj,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
    }


# -- H1: an embedded object is the sender's word only for its own server's objects ------------------


def test_h1_announce_cannot_embed_a_third_servers_note(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows ben, and eve on a third server has a public note
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = other_peer.add_actor("eve", key_index=1)
    follow_remote(client, peer, "ana", ben)
    genuine = remote_note(eve, 1, "<p>the real words</p>")
    other_peer.add_object(genuine)
    # When ben boosts a forged copy of it: a direct message "from" eve to ana
    forged = {**dm_to_ana(eve, 1, "<p>send me your password</p>"), "id": genuine["id"]}
    deliver(client, peer, ben, announce_of(ben, forged, 1))
    # Then the note is stored as eve's server serves it: public, her words, mentioning nobody
    assert posts(client) == {genuine["id"]: "<p>the real words</p>"}
    assert "/users/eve/statuses/1" in fetched_paths(other_peer)
    assert query(client, select(Post.visibility)) == [(Visibility.PUBLIC,)]
    assert query(client, select(Mention.post_id)) == []
    # And ben's boost of the genuine note is recorded
    assert query(client, select(Announce.ap_id)) == [(f"{ben.id}/statuses/1/activity",)]


def test_h1_a_forged_embedded_note_does_not_block_the_genuine_one(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows ben and eve, and eve's note does not exist yet
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = other_peer.add_actor("eve", key_index=1)
    follow_remote(client, peer, "ana", ben)
    follow_remote(client, other_peer, "ana", eve)
    # When ben boosts a forged note under the id eve's next note will have
    deliver(client, peer, ben, announce_of(ben, dm_to_ana(eve, 2, "<p>forged</p>"), 2))
    # Then nothing is stored (eve's server does not know that note)
    assert posts(client) == {}
    assert last_outcome(client)[:2] == ("Announce", WorkState.FAILED)
    # When eve really posts it, her note is stored with her words
    genuine = remote_note(eve, 2, "<p>eve's own words</p>")
    deliver(client, other_peer, eve, create_of(eve, genuine))
    assert posts(client) == {genuine["id"]: "<p>eve's own words</p>"}


def test_h1_an_announce_may_embed_a_note_of_its_own_server(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows ben, and eve is on ben's server (Misskey and others embed what they boost)
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    follow_remote(client, peer, "ana", ben)
    # When ben boosts eve's note, embedded, which the server does not serve to us
    note = remote_note(eve, 3, "<p>from the same server</p>")
    deliver(client, peer, ben, announce_of(ben, note, 3))
    # Then the embedded copy is believed as its own server's word, without a fetch
    assert posts(client) == {note["id"]: "<p>from the same server</p>"}
    assert "/users/eve/statuses/3" not in fetched_paths(peer)


def test_h1_create_of_a_third_servers_note_is_refused(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows eve on a third server, whose note exists there
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = other_peer.add_actor("eve", key_index=1)
    follow_remote(client, other_peer, "ana", eve)
    genuine = remote_note(eve, 4, "<p>eve's</p>")
    other_peer.add_object(genuine)
    # When ben sends a Create of it (a real forward keeps eve as the actor; this one does not)
    forged = {**genuine, "content": "<p>ben's version</p>"}
    deliver(client, peer, ben, {"id": f"{ben.id}/creates/4", "type": "Create", "actor": ben.id, "object": forged})
    # Then it is refused with its reason, and eve's server is not even asked
    assert posts(client) == {}
    kind, state, error = last_outcome(client)
    assert (kind, state) == ("Create", WorkState.FAILED)
    assert error is not None and "not on the sending actor's server" in error
    assert "/users/eve/statuses/4" not in fetched_paths(other_peer)


def test_h1_create_attributed_to_another_actor_is_refused(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows eve, and ben is on eve's server
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    follow_remote(client, peer, "ana", eve)
    # When ben sends a Create of eve's note (which her server serves), in other words
    eves = remote_note(eve, 5, "<p>her words</p>")
    peer.add_object(eves)
    deliver(client, peer, ben, create_of(ben, {**eves, "content": "<p>words put in her mouth</p>"}))
    # Then it is refused
    assert posts(client) == {}
    kind, state, error = last_outcome(client)
    assert (kind, state) == ("Create", WorkState.FAILED)
    assert error is not None and "not attributed to the sending actor" in error


def test_h1_update_of_someone_elses_note_is_refused(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows eve on a third server, and eve's note is stored
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = other_peer.add_actor("eve", key_index=1)
    follow_remote(client, other_peer, "ana", eve)
    eves = remote_note(eve, 6, "<p>original</p>")
    deliver(client, other_peer, eve, create_of(eve, eves))
    # When ben sends an Update of it
    edited = {**eves, "content": "<p>defaced</p>", "updated": "2030-01-01T00:00:00Z"}
    deliver(client, peer, ben, {"id": f"{ben.id}#updates/1", "type": "Update", "actor": ben.id, "object": edited})
    # Then the note is unchanged, and the Update is refused with its reason
    assert posts(client) == {eves["id"]: "<p>original</p>"}
    kind, state, error = last_outcome(client)
    assert (kind, state) == ("Update", WorkState.FAILED)
    assert error is not None and "only its author" in error


def test_h1_delete_of_another_servers_note_is_refused(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows eve on a third server, and eve's note is stored
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = other_peer.add_actor("eve", key_index=1)
    follow_remote(client, other_peer, "ana", eve)
    eves = remote_note(eve, 7)
    deliver(client, other_peer, eve, create_of(eve, eves))
    # When ben deletes it, it stands, and the Delete is refused with its reason
    delete = {"id": f"{ben.id}#delete/1", "type": "Delete", "actor": ben.id, "object": eves["id"]}
    deliver(client, peer, ben, delete)
    assert query(client, select(Post.deleted_at)) == [(None,)]
    kind, state, error = last_outcome(client)
    assert (kind, state) == ("Delete", WorkState.FAILED)
    assert error is not None and "only its author" in error
    # When ben deletes eve's next note before it exists, nothing is remembered, and her note arrives
    later = remote_note(eve, 8, "<p>still mine</p>")
    deliver(client, peer, ben, {**delete, "id": f"{ben.id}#delete/2", "object": later["id"]})
    assert query(client, select(DeletedObject.ap_id)) == []
    deliver(client, other_peer, eve, create_of(eve, later))
    assert posts(client) == {eves["id"]: "<p>hello</p>", later["id"]: "<p>still mine</p>"}


def test_h1_a_delete_before_create_counts_only_from_the_notes_author(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows eve, and ben is on eve's server
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    follow_remote(client, peer, "ana", eve)
    # When ben deletes eve's next note before it is created, and eve then creates it
    note = remote_note(eve, 9, "<p>not ben's to delete</p>")
    deliver(client, peer, ben, {"id": f"{ben.id}#delete/9", "type": "Delete", "actor": ben.id, "object": note["id"]})
    deliver(client, peer, eve, create_of(eve, note))
    # Then eve's note is stored
    assert posts(client) == {note["id"]: "<p>not ben's to delete</p>"}


# -- W3: an activity id is its actor's server's to mint -----------------------------------------------


def test_w3_an_activity_id_of_another_server_cannot_be_squatted(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana's post, and eve on another server about to like it
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = other_peer.add_actor("eve", key_index=1)
    post = publish(client, "ana", "like me")
    like_id = f"{eve.id}#likes/1"
    # When ben sends a Like under the id eve's server will use, then eve hers
    squat = {"id": like_id, "type": "Like", "actor": ben.id, "object": post.ap_id}
    squat_status = send_activity(client, peer, ben, squat)
    drain(client)
    deliver(client, other_peer, eve, {"id": like_id, "type": "Like", "actor": eve.id, "object": post.ap_id})
    # Then eve's genuine Like is applied, and ben's was refused at the door
    liked_by = query(client, select(Actor.ap_id, Like.ap_id).join(Like, Like.actor_id == Actor.id))
    assert liked_by == [(eve.id, like_id)]
    assert squat_status == 400

"""Forwarded activities (issue 12, items 2 and 6; decision 0058).

Mastodon forwards a reply to the followers of the post it answers: the forwarding server (``peer``, where
olga wrote the post ana follows) POSTs the replier's ``Create`` as it received it, signed over HTTP with
olga's key, not the author's. The replier's server (``other_peer``, yann) serves the real note. The body
is shaped as Mastodon's (``tests/data/mastodon_forwarded_reply.json``); its Linked Data signature, when a
test wants one, is made with yann's key by ``tests/ld_reference.py`` (Mastodon's algorithm written for the
tests with pyld and cryptography), never by our own code.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from storage.models import FetchKind, Post, RemoteFetch
from tests.fediverse.federation.conftest import (
    create_of,
    deliver,
    drain,
    follow_remote,
    load_payload,
    query,
    remote_note,
    send_activity,
)
from tests.ld_reference import mastodon_sign
from tests.peers import FakePeer, PeerActor, running_peer

OP_NUMBER = 113599999999999001


class Thread:
    """olga's post (stored here: ana follows her) and yann's reply to it, served by yann's server."""

    def __init__(self, client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Any) -> None:
        self.client, self.peer, self.other_peer = client, peer, other_peer
        make_user("ana")
        self.olga = peer.add_actor("olga", key_index=0)
        self.yann = other_peer.add_actor("yann", key_index=1)
        follow_remote(client, peer, "ana", self.olga)
        self.op = remote_note(self.olga, OP_NUMBER, "<p>fog over the harbour this morning</p>")
        peer.add_object(self.op)
        deliver(client, peer, self.olga, create_of(self.olga, self.op))
        self.create = load_payload(
            "mastodon_forwarded_reply.json",
            {"https://forwarder.example": peer.base_url, "https://replier.example": other_peer.base_url},
        )
        del self.create["signature"]  # Mastodon's placeholder; tests sign with yann's key when they want one
        self.reply = copy.deepcopy(self.create["object"])
        assert self.reply["inReplyTo"] == self.op["id"]
        other_peer.add_object(self.reply)  # the origin's word

    def forward(self, activity: dict[str, Any], *, by: PeerActor | None = None) -> int:
        """olga's server passes ``activity`` on, signed over HTTP with olga's key."""
        return send_activity(self.client, self.peer, by or self.olga, activity)

    def signed(self, activity: dict[str, Any]) -> dict[str, Any]:
        """``activity`` with yann's Linked Data signature, as Mastodon adds one."""
        return mastodon_sign(activity, self.yann.keys.private_pem, self.yann.key_id)

    def origin_fetches(self) -> list[str]:
        return [
            get.path
            for get in self.other_peer.fetched
            if get.path == self.reply["id"].removeprefix(self.other_peer.base_url)
        ]


def post(client: TestClient, ap_id: str) -> Post | None:
    rows = query(client, select(Post).where(Post.ap_id == ap_id))
    return rows[0][0] if rows else None


@pytest.fixture
def thread(client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Any) -> Thread:
    return Thread(client, peer, other_peer, make_user)


def test_a_forwarded_reply_without_a_signature_is_fetched_from_its_origin(client: TestClient, thread: Thread) -> None:
    # Given yann's reply, forwarded by olga's server without a Linked Data signature
    assert thread.forward(thread.create) == 202  # not 401: Mastodon would retry that for days
    drain(client)
    # Then the note was fetched from yann's server and stored as it serves it, in olga's thread
    stored = post(client, thread.reply["id"])
    assert stored is not None and "the fog lifted by noon here too" in stored.content_html
    assert stored.in_reply_to_id == post(client, thread.op["id"]).id  # type: ignore[union-attr]
    assert thread.origin_fetches()


def test_a_forged_forward_stores_what_the_origin_says(client: TestClient, thread: Thread) -> None:
    # Given a forward whose body claims yann wrote something else
    forged = copy.deepcopy(thread.create)
    forged["object"]["content"] = forged["object"]["contentMap"]["en"] = "<p>send your password to evil.example</p>"
    assert thread.forward(forged) == 202
    drain(client)
    # Then the origin's version is stored, not the forwarded one
    stored = post(client, thread.reply["id"])
    assert stored is not None and "fog lifted" in stored.content_html and "password" not in stored.content_html


def test_a_forged_forward_of_a_note_its_origin_does_not_have_stores_nothing(
    client: TestClient, thread: Thread, other_peer: FakePeer
) -> None:
    del other_peer.objects[thread.reply["id"]]  # the origin answers 404
    assert thread.forward(thread.create) == 202
    drain(client)
    assert post(client, thread.reply["id"]) is None


def test_a_forward_signed_by_its_author_is_applied_at_once(client: TestClient, thread: Thread) -> None:
    # Given the forward carries yann's valid Linked Data signature
    assert thread.forward(thread.signed(thread.create)) == 202
    drain(client)
    # Then it is stored without asking yann's server for the note
    stored = post(client, thread.reply["id"])
    assert stored is not None and "fog lifted" in stored.content_html
    assert thread.origin_fetches() == []


def test_a_forward_whose_signature_does_not_verify_is_fetched_instead(client: TestClient, thread: Thread) -> None:
    # Given a signed forward altered after signing
    tampered = thread.signed(thread.create)
    tampered["object"]["content"] = "<p>altered on the way</p>"
    assert thread.forward(tampered) == 202
    drain(client)
    # Then the signature is not believed: the origin is asked and its version stored
    stored = post(client, thread.reply["id"])
    assert stored is not None and "fog lifted" in stored.content_html and "altered" not in stored.content_html
    assert thread.origin_fetches()


def test_a_forward_signed_by_another_key_than_the_authors_is_fetched_instead(
    client: TestClient, thread: Thread
) -> None:
    # Given olga's server rewrote yann's reply and signed it with olga's key, naming yann's key as creator
    rewritten = copy.deepcopy(thread.create)
    rewritten["object"]["content"] = "<p>olga's words in yann's mouth</p>"
    signed = mastodon_sign(rewritten, thread.olga.keys.private_pem, thread.yann.key_id)
    assert thread.forward(signed) == 202
    drain(client)
    # Then the signature does not verify with yann's key: the origin's version is stored
    stored = post(client, thread.reply["id"])
    assert stored is not None and "olga's words" not in stored.content_html and "fog lifted" in stored.content_html


def test_a_forward_about_nothing_we_store_costs_no_fetch(client: TestClient, thread: Thread) -> None:
    # Given a forwarded reply to a post this server never stored
    elsewhere = copy.deepcopy(thread.create)
    elsewhere["object"]["inReplyTo"] = f"{thread.olga.id}/statuses/1"
    assert thread.forward(elsewhere) == 202
    drain(client)
    # Then nothing is fetched or stored
    assert thread.origin_fetches() == []
    assert post(client, thread.reply["id"]) is None
    assert query(client, select(RemoteFetch.id).where(RemoteFetch.kind == FetchKind.FORWARDED)) == []


def test_a_forwarded_like_is_still_refused(client: TestClient, thread: Thread) -> None:
    like = {"id": f"{thread.yann.id}#likes/1", "type": "Like", "actor": thread.yann.id, "object": thread.op["id"]}
    assert thread.forward(like) == 401


def stored_reply(client: TestClient, thread: Thread) -> Post:
    assert thread.forward(thread.signed(thread.create)) == 202
    drain(client)
    stored = post(client, thread.reply["id"])
    assert stored is not None and stored.deleted_at is None
    return stored


def delete_of(thread: Thread) -> dict[str, Any]:
    """Mastodon's Delete of yann's reply (``{note}#delete``, a Tombstone)."""
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{thread.reply['id']}#delete",
        "type": "Delete",
        "actor": thread.yann.id,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {"id": thread.reply["id"], "type": "Tombstone"},
    }


def test_a_forwarded_delete_confirmed_by_a_410_deletes(
    client: TestClient, thread: Thread, other_peer: FakePeer
) -> None:
    stored_reply(client, thread)
    other_peer.gone.add(thread.reply["id"])  # yann deleted it: his server answers 410
    assert thread.forward(delete_of(thread)) == 202
    drain(client)
    assert post(client, thread.reply["id"]).deleted_at is not None  # type: ignore[union-attr]


def test_a_forwarded_delete_confirmed_by_a_404_deletes(
    client: TestClient, thread: Thread, other_peer: FakePeer
) -> None:
    stored_reply(client, thread)
    del other_peer.objects[thread.reply["id"]]
    assert thread.forward(delete_of(thread)) == 202
    drain(client)
    assert post(client, thread.reply["id"]).deleted_at is not None  # type: ignore[union-attr]


def test_a_forwarded_delete_the_origin_does_not_confirm_is_ignored(client: TestClient, thread: Thread) -> None:
    stored_reply(client, thread)
    # Given the origin still serves the note
    assert thread.forward(delete_of(thread)) == 202
    drain(client)
    # Then our copy stays
    stored = post(client, thread.reply["id"])
    assert stored is not None and stored.deleted_at is None and "fog lifted" in stored.content_html


def test_a_forwarded_delete_signed_by_its_author_deletes_at_once(client: TestClient, thread: Thread) -> None:
    stored_reply(client, thread)
    fetched_before = len(thread.origin_fetches())
    assert thread.forward(thread.signed(delete_of(thread))) == 202
    drain(client)
    assert post(client, thread.reply["id"]).deleted_at is not None  # type: ignore[union-attr]
    assert len(thread.origin_fetches()) == fetched_before  # no fetch needed


def test_a_forged_forwarded_delete_does_not_block_the_authors_own(
    client: TestClient, thread: Thread, other_peer: FakePeer
) -> None:
    # Given a forged forward of yann's Delete (the id Mastodon would give it) while the note still exists
    stored_reply(client, thread)
    assert thread.forward(delete_of(thread)) == 202
    drain(client)
    assert post(client, thread.reply["id"]).deleted_at is None  # type: ignore[union-attr]
    # When yann's server later delivers the genuine Delete, with that same id
    other_peer.gone.add(thread.reply["id"])
    deliver(client, other_peer, thread.yann, delete_of(thread))
    # Then it is applied: the forward did not take its place
    assert post(client, thread.reply["id"]).deleted_at is not None  # type: ignore[union-attr]


def test_a_forwarded_edit_is_taken_from_the_origin(client: TestClient, thread: Thread, other_peer: FakePeer) -> None:
    stored_reply(client, thread)
    edited = {**thread.reply, "content": "<p>the fog came back at dusk</p>", "updated": "2024-12-06T18:00:00Z"}
    other_peer.add_object(edited)
    update = {
        "id": f"{thread.reply['id']}#updates/1",
        "type": "Update",
        "actor": thread.yann.id,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {**edited, "content": "<p>a forged edit</p>"},
    }
    assert thread.forward(update) == 202
    drain(client)
    stored = post(client, thread.reply["id"])
    assert stored is not None and "came back at dusk" in stored.content_html


def test_the_same_reply_forwarded_by_two_servers_costs_one_fetch(client: TestClient, thread: Thread) -> None:
    # Given yann's reply forwarded by olga's server (twice) and by a third server, before the worker runs
    with running_peer() as third:
        pia = third.add_actor("pia", key_index=2)
        assert thread.forward(thread.create) == 202
        assert thread.forward(thread.create) == 202  # a repeat from the same server is the same item
        assert send_activity(client, third, pia, thread.create) == 202
        drain(client)
    # Then one fetch row served all of them, and the origin was asked once
    rows = query(client, select(RemoteFetch.id).where(RemoteFetch.target_ap_id == thread.reply["id"]))
    assert len(rows) == 1
    assert len(thread.origin_fetches()) == 1
    assert post(client, thread.reply["id"]) is not None

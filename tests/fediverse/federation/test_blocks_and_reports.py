"""A local account blocks, unblocks and reports remote accounts: what the peer receives (signed, in
Mastodon's shapes) and what a blocked peer can no longer do here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from fediverse.social import actions
from storage.models import Account, Announce, Block, Follow, Like, Notification, Post, Report, Visibility
from tests.conftest import TEST_BASE_URL
from tests.fediverse.federation.conftest import (
    AS2,
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
from tests.peers import FakePeer, PeerActor

ANA = f"{TEST_BASE_URL}/users/ana"


def signed_deliveries(peer: FakePeer, kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(inbox path, activity) of each POST of ``kind`` the peer received; every one must be signed."""
    found = []
    for post in peer.posts():
        assert post.signature_ok, f"{post.path}: signature not valid"
        if post.activity["type"] == kind:
            found.append((post.path, post.activity))
    return found


@pytest.fixture
def ben(client: TestClient, peer: FakePeer, make_user: Callable[..., Account]) -> PeerActor:
    """ben, on a Mastodon-like peer that checks the signatures of ana (a local account) and of our
    instance actor."""
    make_user("ana")
    peer.trust(client.get("/users/ana", headers=AS2).json())
    peer.trust(client.get("/actor", headers=AS2).json())
    return peer.add_actor("ben")


def test_blocking_ends_follows_both_ways_and_tells_the_peer(client: TestClient, peer: FakePeer, ben: PeerActor) -> None:
    # Given ana and ben (on a Mastodon-like server) following each other
    our_follow = follow_remote(client, peer, "ana", ben)
    their_follow = remote_follows(client, peer, ben, "ana")
    peer.received.clear()
    # When ana blocks ben
    block = act(client, actions.block, "ana", ben.id)
    drain(client)
    # Then ben's server gets, at his own inbox, signed: Undo of ana's Follow, Reject of his, and the Block
    ((undo_path, undo),) = signed_deliveries(peer, "Undo")
    assert undo_path == "/users/ben/inbox"
    assert undo["actor"] == ANA and undo["object"]["type"] == "Follow" and undo["object"]["id"] == our_follow["id"]
    ((_, reject),) = signed_deliveries(peer, "Reject")
    assert reject["object"]["id"] == their_follow["id"] and reject["object"]["actor"] == ben.id
    ((block_path, sent_block),) = signed_deliveries(peer, "Block")
    assert block_path == "/users/ben/inbox"
    assert (sent_block["id"], sent_block["actor"], sent_block["object"]) == (block.ap_id, ANA, ben.id)
    # And nobody follows anybody any more
    assert query(client, select(Follow.id)) == []
    assert client.get("/users/ana/followers", headers=AS2).json()["totalItems"] == 0
    # When ana unblocks him, his server gets an Undo embedding the same Block
    peer.received.clear()
    act(client, actions.unblock, "ana", ben.id)
    drain(client)
    ((_, undo_block),) = signed_deliveries(peer, "Undo")
    assert undo_block["object"]["type"] == "Block" and undo_block["object"]["id"] == block.ap_id
    assert undo_block["object"]["object"] == ben.id
    assert query(client, select(Block.id)) == []


def test_a_blocked_actor_cannot_follow_like_boost_reply_or_read(
    client: TestClient, peer: FakePeer, ben: PeerActor
) -> None:
    # Given ana's public post, and a direct one to ben that his server may fetch, signed
    public = publish(client, "ana", "an open field")
    direct = publish(client, "ana", "just for you", visibility=Visibility.DIRECT, mentions=[known_actor(client, ben)])
    assert client.get(direct.ap_id, headers=peer.signed_get_headers(ben, direct.ap_id)).status_code == 200
    # When ana blocks ben
    act(client, actions.block, "ana", ben.id)
    drain(client)
    peer.received.clear()
    # When ben follows her, his server gets a signed Reject and he is no follower
    follow = {"id": f"{ben.id}#follows/1", "type": "Follow", "actor": ben.id, "object": ANA}
    deliver(client, peer, ben, follow)
    ((_, reject),) = signed_deliveries(peer, "Reject")
    assert reject["object"]["id"] == follow["id"]
    assert query(client, select(Follow.id)) == []
    # When he likes, boosts and replies to her post, nothing is kept and ana is not notified
    deliver(client, peer, ben, {"id": f"{ben.id}#likes/1", "type": "Like", "actor": ben.id, "object": public.ap_id})
    boost = {"id": f"{ben.id}/statuses/2/activity", "type": "Announce", "actor": ben.id, "object": public.ap_id}
    deliver(client, peer, ben, boost)
    reply = remote_note(ben, 3, "<p>hey</p>", inReplyTo=public.ap_id, cc=[ANA])
    deliver(client, peer, ben, create_of(ben, reply))
    assert query(client, select(Like.id)) == []
    assert query(client, select(Announce.id)) == []
    assert query(client, select(Post.id).where(Post.ap_id == reply["id"])) == []
    assert query(client, select(Notification.id)) == []
    # And his signed fetches of the direct post and its Create get the same 404 as a post that never existed
    for url in (direct.ap_id, f"{direct.ap_id}/activity"):
        assert client.get(url, headers=peer.signed_get_headers(ben, url)).status_code == 404


def test_a_forwarded_report_is_a_flag_from_the_instance_actor(
    client: TestClient, peer: FakePeer, ben: PeerActor
) -> None:
    # Given ana, who follows ben and has his post in her feed
    instance = client.get("/actor", headers=AS2).json()
    follow_remote(client, peer, "ana", ben)
    note = remote_note(ben, 7, "<p>buy my pills</p>")
    deliver(client, peer, ben, create_of(ben, note))
    peer.received.clear()
    # When ana reports ben and that post, asking to tell his server
    act_report = act(client, _report_and_forward, ben.id, note["id"])
    drain(client)
    # Then his server gets a Flag signed by the instance actor, naming him then the post, with the comment
    ((path, flag),) = signed_deliveries(peer, "Flag")
    assert path == "/users/ben/inbox"
    assert flag["actor"] == instance["id"] == f"{TEST_BASE_URL}/actor"
    assert flag["object"] == [ben.id, note["id"]]
    assert flag["content"] == "spam in my feed"
    assert f'keyId="{instance["publicKey"]["id"]}"' in peer.posts()[0].headers["signature"]
    assert ANA not in str(flag)  # the reporter stays anonymous
    # And the report is kept for the admins, marked as forwarded
    ((stored,),) = query(client, select(Report).where(Report.id == act_report.id))
    assert stored.forwarded_at is not None and stored.post_ap_ids == [note["id"]]


async def _report_and_forward(services: Any, target: str, post_id: str) -> Report:
    return await actions.report(
        services, "ana", target, comment="spam in my feed", post_references=[post_id], forward=True
    )

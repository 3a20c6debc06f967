"""When peers fail, or send us what they should not.

Outbound: a delivery that fails is retried later (tests move ``next_attempt_at`` instead of sleeping),
``Retry-After`` is honoured, 410 forgets the recipient, other 4xx are dropped with the reason kept, a
failing host is backed off as a whole, and an unreachable one retried. Inbound: every bad request gets
its 4xx and leaves nothing stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from activitypub.delivery import HOST_FAILURE_THRESHOLD
from fediverse.social import actions
from storage.models import Account, Actor, Delivery, Follow, HostHealth, InboxItem, Like, WorkState
from storage.types import utcnow
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.federation.conftest import AS2, act, drain, publish, query, remote_follows, remote_note
from tests.peers import FakePeer, PeerActor
from tests.processes import free_port

ANA = f"{TEST_BASE_URL}/users/ana"


def make_due(client: TestClient) -> None:
    """Bring every waiting delivery's next attempt to now, as if its backoff had passed."""

    async def run() -> None:
        async with services_of(client).db.transaction() as session:
            await session.execute(update(Delivery).values(next_attempt_at=utcnow()))

    run_in_app(client, run)


def deliveries(client: TestClient) -> list[Any]:
    return [row[0] for row in query(client, select(Delivery).order_by(Delivery.id))]


def like_bens_note(client: TestClient, peer: FakePeer, ben: PeerActor, number: int = 1) -> str:
    note = remote_note(ben, number)
    peer.add_object(note)
    act(client, actions.like, "ana", note["id"])
    return str(note["id"])


@pytest.fixture
def ben(client: TestClient, peer: FakePeer, make_user: Callable[..., Account]) -> PeerActor:
    make_user("ana")
    peer.trust(client.get("/users/ana", headers=AS2).json())
    return peer.add_actor("ben")


# -- outbound ----------------------------------------------------------------------------------


def test_a_500_is_retried_and_the_activity_arrives_once(client: TestClient, peer: FakePeer, ben: PeerActor) -> None:
    # Given ben's server fails once
    peer.answer_inbox_with(500)
    like_bens_note(client, peer, ben)
    # When the like is sent, the 500 schedules a retry
    drain(client)
    (delivery,) = deliveries(client)
    assert (delivery.state, delivery.attempts, delivery.last_status) == (WorkState.QUEUED, 1, 500)
    assert delivery.next_attempt_at > utcnow() + timedelta(seconds=20)
    assert drain(client) == 0  # nothing is due yet
    # When the retry is due, it is sent, signed afresh, and accepted
    make_due(client)
    drain(client)
    (delivery,) = deliveries(client)
    assert (delivery.state, delivery.attempts, delivery.last_status) == (WorkState.DONE, 2, 202)
    posts = peer.posts()
    assert len(posts) == 2 and posts[0].body == posts[1].body
    assert all(post.signature_ok for post in posts)
    # And nothing more is sent
    make_due(client)
    drain(client)
    assert len(peer.posts()) == 2


@pytest.mark.parametrize(
    ("status", "retry_after"), [(429, "3600"), (503, "Wed, 21 Oct 2099 07:28:00 GMT")], ids=["429-seconds", "503-date"]
)
def test_retry_after_is_honoured(
    client: TestClient, peer: FakePeer, ben: PeerActor, status: int, retry_after: str
) -> None:
    # Given ben's server asks us to come back later
    peer.answer_inbox_with((status, {"Retry-After": retry_after}))
    # When ana's like is sent
    like_bens_note(client, peer, ben)
    drain(client)
    (delivery,) = deliveries(client)
    # Then the retry waits at least as long as it asked
    assert delivery.state == WorkState.QUEUED
    assert delivery.last_status == status
    # an hour for "3600"; a far date is capped at 12 h, still far longer than our own first backoff (~30 s)
    assert delivery.next_attempt_at > utcnow() + timedelta(minutes=59)


def test_a_410_forgets_the_recipient_and_stops_deliveries(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given zed, on a server without shared inboxes, follows ana
    make_user("ana")
    zed = peer.add_actor("zed", endpoints={})
    remote_follows(client, peer, zed, "ana")
    peer.received.clear()
    # When his inbox answers 410 to her next post
    peer.answer_inbox_with(410)
    publish(client, "ana", "anyone there?")
    drain(client)
    # Then he is marked gone and no longer follows her
    assert [row.state for row in deliveries(client)][-1] == WorkState.GONE
    (gone_at,) = query(client, select(Actor.gone_at).where(Actor.ap_id == zed.id))
    assert gone_at[0] is not None
    assert query(client, select(Follow.id)) == []
    # And her next post is not even queued for him
    publish(client, "ana", "hello?")
    drain(client)
    assert len(peer.posts()) == 1


def test_another_4xx_is_dropped_with_the_reason_kept(client: TestClient, peer: FakePeer, ben: PeerActor) -> None:
    # Given ben's server refuses the like for good
    peer.answer_inbox_with(400)
    like_bens_note(client, peer, ben)
    drain(client)
    (delivery,) = deliveries(client)
    # Then the delivery is dropped, the reason kept, and never retried
    assert (delivery.state, delivery.last_status) == (WorkState.FAILED, 400)
    assert "400" in delivery.last_error
    make_due(client)
    assert drain(client) == 0


def test_a_failing_host_is_backed_off_as_a_whole(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, ben: PeerActor
) -> None:
    # Given ben's server fails every delivery in a batch big enough to trip the breaker
    peer.answer_inbox_with(*[500] * HOST_FAILURE_THRESHOLD)
    for number in range(HOST_FAILURE_THRESHOLD):
        like_bens_note(client, peer, ben, number)
    drain(client)
    (health,) = query(client, select(HostHealth))
    assert health[0].consecutive_failures == HOST_FAILURE_THRESHOLD
    assert health[0].backoff_until > utcnow()
    # When the retries fall due while the host is backed off, none is sent to it
    make_due(client)
    mia = other_peer.add_actor("mia")
    other_peer.trust(client.get("/users/ana", headers=AS2).json())
    act(client, actions.follow, "ana", mia.id)
    drain(client)
    assert len(peer.posts()) == HOST_FAILURE_THRESHOLD
    # But other hosts are served as usual
    assert [activity["type"] for activity in other_peer.activities()] == ["Follow"]

    # When the backoff has passed, the host gets them all, and a success clears its record
    async def lift() -> None:
        async with services_of(client).db.transaction() as session:
            await session.execute(update(HostHealth).values(backoff_until=utcnow() - timedelta(seconds=1)))

    run_in_app(client, lift)
    drain(client)
    assert len(peer.posts()) == 2 * HOST_FAILURE_THRESHOLD
    (health,) = query(client, select(HostHealth.consecutive_failures, HostHealth.backoff_until))
    assert health == (0, None)


def test_an_unreachable_peer_is_retried(client: TestClient, peer: FakePeer, ben: PeerActor) -> None:
    # Given an actor whose inbox is a port where nothing listens
    closed = free_port()
    dead = peer.add_actor("dead", inbox=f"http://127.0.0.1:{closed}/users/dead/inbox", endpoints={})
    act(client, actions.follow, "ana", dead.id)
    drain(client)
    (delivery,) = deliveries(client)
    assert delivery.state == WorkState.QUEUED
    assert delivery.last_status is None
    assert "network error" in delivery.last_error
    assert delivery.next_attempt_at > utcnow()


# -- inbound -----------------------------------------------------------------------------------


def _like(actor: PeerActor, object_id: str) -> dict[str, Any]:
    return {"id": f"{actor.id}#likes/1", "type": "Like", "actor": actor.id, "object": object_id}


def _post(client: TestClient, body: bytes, headers: dict[str, str]) -> int:
    return client.post("/inbox", content=body, headers=headers).status_code


def _nothing_stored(client: TestClient) -> bool:
    return not query(client, select(InboxItem.id)) and not query(client, select(Like.id))


def test_bad_requests_get_their_4xx_and_leave_nothing_stored(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana's post, and peers with their keys (mallory's document says its key is ben's)
    make_user("ana")
    target = publish(client, "ana", "target").ap_id
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    mallory = peer.add_actor("mallory", key_index=2)
    mallory.extra["publicKey"] = {"id": mallory.key_id, "owner": ben.id, "publicKeyPem": mallory.keys.public_pem}
    url = f"{TEST_BASE_URL}/inbox"
    body = json.dumps(_like(ben, target)).encode()
    good = peer.signed_headers(ben, url, body)

    cases: dict[str, tuple[bytes, dict[str, str]]] = {
        "unsigned": (body, {"Content-Type": "application/activity+json"}),
        "bad signature": (body, {**good, "Signature": good["Signature"].replace('signature="', 'signature="AAAA')}),
        "wrong digest": (body.replace(b"likes/1", b"likes/2"), good),
        "old date": (body, peer.signed_headers(ben, url, body, now=utcnow() - timedelta(hours=3))),
        "signer is not the actor": (body, peer.signed_headers(eve, url, body)),
        "key owned by another actor": (
            json.dumps(_like(mallory, target)).encode(),
            peer.signed_headers(mallory, url, json.dumps(_like(mallory, target)).encode()),
        ),
        "malformed JSON": (b'{"id": ', peer.signed_headers(ben, url, b'{"id": ')),
        "not an object": (b"[1, 2]", peer.signed_headers(ben, url, b"[1, 2]")),
        "no id": (
            json.dumps({**_like(ben, target), "id": None}).encode(),
            peer.signed_headers(ben, url, json.dumps({**_like(ben, target), "id": None}).encode()),
        ),
        "wrong content type": (body, peer.signed_headers(ben, url, body, content_type="text/plain")),
        "oversized body": (b" " * (1024 * 1024 + 1), peer.signed_headers(ben, url, b" " * (1024 * 1024 + 1))),
    }
    expected = {
        "unsigned": 401,
        "bad signature": 401,
        "wrong digest": 401,
        "old date": 401,
        "signer is not the actor": 401,
        "key owned by another actor": 401,
        "malformed JSON": 400,
        "not an object": 400,
        "no id": 400,
        "wrong content type": 415,
        "oversized body": 413,
    }
    # When each bad request reaches the inbox, each gets its 4xx and nothing is stored
    answers = {name: _post(client, *case) for name, case in cases.items()}
    assert answers == expected
    drain(client)
    assert _nothing_stored(client)
    # The same activity, properly signed, is accepted and applied (so the refusals above were the request's fault)
    assert _post(client, body, good) == 202
    drain(client)
    assert query(client, select(Like.ap_id)) == [(f"{ben.id}#likes/1",)]


def test_a_deleted_strangers_farewell_is_answered_202_and_ignored(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given an account we never knew, deleted on its server (its actor and key now answer 410)
    make_user("ana")
    gone = peer.add_actor("gone")
    peer.gone.add(gone.id)
    farewell = {"id": f"{gone.id}#delete", "type": "Delete", "actor": gone.id, "object": gone.id}
    body = json.dumps(farewell).encode()
    # When its server sends the account's Delete, we answer 202 (so it stops retrying) and keep nothing
    assert _post(client, body, peer.signed_headers(gone, f"{TEST_BASE_URL}/inbox", body)) == 202
    assert query(client, select(InboxItem.id)) == []
    assert query(client, select(Actor.id).where(Actor.ap_id == gone.id)) == []
    # But any other activity whose key cannot be had is still refused
    like = json.dumps(_like(gone, f"{ANA}/statuses/1")).encode()
    assert _post(client, like, peer.signed_headers(gone, f"{TEST_BASE_URL}/inbox", like)) == 401

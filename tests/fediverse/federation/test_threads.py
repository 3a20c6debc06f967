"""Whole threads (decision 0015): parents fetched by the worker and linked, late parents linking their
replies, and a remote post's replies loaded from its server on request. Peers are real servers on
127.0.0.1 that record our GETs and check their signatures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from fediverse.services import Services
from storage.models import Account, DomainBlock, FetchKind, Notification, Post, RemoteFetch, WorkState
from tests.conftest import run_in_app, services_of
from tests.fediverse.federation.conftest import (
    AS2,
    create_of,
    deliver,
    drain,
    follow_remote,
    publish,
    query,
    remote_note,
)
from tests.fediverse.web.conftest import BROWSER, PASSWORD, sign_in
from tests.peers import FakePeer, PeerActor
from tests.processes import free_port

MAX_ANCESTORS = 5


@pytest.fixture
def ana(make_user: Callable[..., Account]) -> Account:
    return make_user("ana", password=PASSWORD)


@pytest.fixture
def ben(client: TestClient, peer: FakePeer, ana: Account) -> PeerActor:
    """A peer's actor whom ana follows, so his notes are stored."""
    actor = peer.add_actor("ben")
    follow_remote(client, peer, "ana", actor)
    return actor


@pytest.fixture
def eve(client: TestClient, other_peer: FakePeer) -> PeerActor:
    """Someone on another server, whom nobody here follows; the peer checks our signatures."""
    other_peer.trust(client.get("/actor", headers=AS2).json())
    return other_peer.add_actor("eve", key_index=1)


def stored(client: TestClient, ap_id: str) -> Post | None:
    rows = query(client, select(Post).where(Post.ap_id == ap_id))
    return rows[0][0] if rows else None


def fetches(client: TestClient) -> list[tuple[str, str, int]]:
    rows = query(client, select(RemoteFetch.target_ap_id, RemoteFetch.state, RemoteFetch.attempts))
    return [tuple(row) for row in rows]


def reply_of(author: PeerActor, number: int, parent_id: str, content: str = "<p>a reply</p>") -> dict[str, Any]:
    return remote_note(author, number, content, inReplyTo=parent_id)


def test_a_missing_parent_is_fetched_signed_in_the_worker_and_linked(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, ben: PeerActor, eve: PeerActor
) -> None:
    # Given eve's note on her server, which we do not have
    parent = remote_note(eve, 1, "<p>the start</p>")
    other_peer.add_object(parent)
    notifications_before = len(query(client, select(Notification.id)))
    # When ben's reply to it arrives and the worker runs
    reply = reply_of(ben, 2, parent["id"])
    deliver(client, peer, ben, create_of(ben, reply))
    # Then the parent is stored and the reply points at it
    stored_parent, stored_reply = stored(client, parent["id"]), stored(client, reply["id"])
    assert stored_parent is not None and stored_parent.content_html == "<p>the start</p>"
    assert stored_reply is not None and stored_reply.in_reply_to_id == stored_parent.id
    # And our GET of it was signed by the instance actor (checked by the peer with pyhttpsig)
    (get,) = [item for item in other_peer.fetched if item.path == "/users/eve/statuses/1"]
    assert get.signature_ok and get.key_id == client.get("/actor", headers=AS2).json()["publicKey"]["id"]
    # And nobody is notified about context
    assert len(query(client, select(Notification.id))) == notifications_before
    assert fetches(client) == [(parent["id"], WorkState.DONE, 1)]
    # And the reply's page shows the parent above it
    page = client.get(f"/@ben@{peer.host}/{stored_reply.id}", headers=BROWSER).text
    assert "the start" in page[page.index("thread-ancestors") : page.index("post-full")]


def test_the_walk_up_the_thread_stops_at_the_bound(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, ben: PeerActor, eve: PeerActor
) -> None:
    # Given a chain of eight notes on eve's server, each answering the one before
    chain = [remote_note(eve, 1, "<p>1</p>")]
    for number in range(2, 9):
        chain.append(reply_of(eve, number, chain[-1]["id"], f"<p>{number}</p>"))
    for note in chain:
        other_peer.add_object(note)
    # When ben answers the last one
    deliver(client, peer, ben, create_of(ben, reply_of(ben, 20, chain[-1]["id"])))
    # Then the nearest MAX_ANCESTORS notes are stored, linked one to the next, and no more are fetched
    kept = chain[-MAX_ANCESTORS:]
    rows = [stored(client, note["id"]) for note in kept]
    assert all(row is not None for row in rows)
    for child, parent in zip(rows[1:], rows[:-1], strict=True):
        assert child is not None and parent is not None and child.in_reply_to_id == parent.id
    assert stored(client, chain[-MAX_ANCESTORS - 1]["id"]) is None
    fetched_paths = {item.path for item in other_peer.fetched}
    assert fetched_paths == {f"/users/eve/statuses/{number}" for number in range(4, 9)}


def test_a_parent_answering_404_or_410_ends_quietly(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, ben: PeerActor, eve: PeerActor
) -> None:
    # Given one parent eve's server never had, and one it deleted
    missing, deleted = f"{eve.id}/statuses/404", f"{eve.id}/statuses/410"
    other_peer.gone.add(deleted)
    # When ben's replies to both arrive and the worker drains
    deliver(client, peer, ben, create_of(ben, reply_of(ben, 3, missing)))
    deliver(client, peer, ben, create_of(ben, reply_of(ben, 4, deleted)))
    drain(client)
    # Then both replies stay, unlinked; each parent was asked for once and its fetch ended at once
    for number in (3, 4):
        kept = stored(client, f"{ben.id}/statuses/{number}")
        assert kept is not None and kept.in_reply_to_id is None
    assert sorted(item.path for item in other_peer.fetched) == ["/users/eve/statuses/404", "/users/eve/statuses/410"]
    assert sorted(fetches(client)) == [(missing, WorkState.FAILED, 1), (deleted, WorkState.FAILED, 1)]


def test_an_unreachable_parent_is_retried_later_not_at_once(client: TestClient, peer: FakePeer, ben: PeerActor) -> None:
    # Given a parent on a server that refuses connections
    parent_id = f"http://127.0.0.1:{free_port()}/users/eve/statuses/1"
    # When ben's reply to it arrives and the worker drains
    deliver(client, peer, ben, create_of(ben, reply_of(ben, 6, parent_id)))
    # Then the fetch waits for a later attempt instead of being tried again in this drain
    ((state, attempts, due, queued),) = query(
        client, select(RemoteFetch.state, RemoteFetch.attempts, RemoteFetch.next_attempt_at, RemoteFetch.created_at)
    )
    assert (state, attempts) == (WorkState.QUEUED, 1) and due - queued >= timedelta(seconds=20)  # backoff, not a loop


def test_a_parent_on_a_blocked_domain_is_never_fetched(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, ben: PeerActor, eve: PeerActor
) -> None:
    # Given eve's server, reachable as "localhost", is blocked (both peers share 127.0.0.1)
    run_in_app(client, _block_domain, services_of(client), "localhost")
    parent_id = f"http://localhost:{other_peer.port}/users/eve/statuses/1"
    # When ben's reply to a note there arrives
    deliver(client, peer, ben, create_of(ben, reply_of(ben, 5, parent_id)))
    # Then the reply is stored, but no fetch is queued and the blocked server is never asked
    assert stored(client, f"{ben.id}/statuses/5") is not None
    assert fetches(client) == []
    assert other_peer.fetched == []


def test_a_fetch_queued_before_a_block_is_refused_when_it_runs(
    client: TestClient, other_peer: FakePeer, eve: PeerActor
) -> None:
    # Given a parent fetch queued while the domain was allowed
    parent_id = f"http://localhost:{other_peer.port}/users/eve/statuses/1"
    run_in_app(client, _queue_parent, services_of(client), parent_id)
    # When the domain is blocked before the worker gets to it
    run_in_app(client, _block_domain, services_of(client), "localhost")
    drain(client)
    # Then the fetch ends without a request
    assert fetches(client) == [(parent_id, WorkState.FAILED, 1)]
    assert other_peer.fetched == []


def test_a_parent_that_arrives_later_links_its_earlier_replies(
    client: TestClient, peer: FakePeer, ben: PeerActor
) -> None:
    # Given ben's reply to a note of his that his server does not serve yet
    parent = remote_note(ben, 30, "<p>late</p>")
    deliver(client, peer, ben, create_of(ben, reply_of(ben, 31, parent["id"])))
    assert stored(client, f"{ben.id}/statuses/31").in_reply_to_id is None  # type: ignore[union-attr]
    # When the parent itself arrives
    deliver(client, peer, ben, create_of(ben, parent))
    # Then the earlier reply points at it
    stored_parent = stored(client, parent["id"])
    assert stored_parent is not None
    assert stored(client, f"{ben.id}/statuses/31").in_reply_to_id == stored_parent.id  # type: ignore[union-attr]


def test_load_replies_fetches_the_collection_and_believes_each_reply_only_from_its_origin(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, ben: PeerActor, eve: PeerActor
) -> None:
    carl = peer.add_actor("carl", key_index=2)
    # Given ben's post, whose replies collection leads (over a second page) to:
    # carl's reply embedded by ben's own server, eve's reply named by id, a reply claiming to be
    # eve's that her server never wrote, and eve's real reply embedded with forged words
    note = remote_note(ben, 40, "<p>what do you think?</p>")
    replies_id = f"{note['id']}/replies"
    carls = reply_of(carl, 41, note["id"], "<p>carl agrees</p>")
    eves = reply_of(eve, 42, note["id"], "<p>eve wonders</p>")
    eves_second = reply_of(eve, 43, note["id"], "<p>eve's real words</p>")
    invented = reply_of(eve, 44, note["id"], "<p>invented for eve</p>")
    other_peer.add_object(eves)
    other_peer.add_object(eves_second)
    peer.add_object(carls)
    peer.add_object(
        {
            "id": f"{replies_id}?page=2",
            "type": "CollectionPage",
            "partOf": replies_id,
            "items": [eves["id"], invented, {**eves_second, "content": "<p>forged</p>"}],
        }
    )
    note["replies"] = {
        "id": replies_id,
        "type": "Collection",
        "first": {"type": "CollectionPage", "partOf": replies_id, "next": f"{replies_id}?page=2", "items": [carls]},
    }
    deliver(client, peer, ben, create_of(ben, note))
    post = stored(client, note["id"])
    assert post is not None
    page_url = f"/@ben@{peer.host}/{post.id}"
    # When ana opens the post, she is offered to load its replies from ben's server
    token = sign_in(client, "ana")
    page = client.get(page_url, headers=BROWSER).text
    assert f"Load replies from {peer.host}" in page
    # And without the CSRF token the button is refused
    assert client.post(f"/posts/{post.id}/replies/fetch", data={}, headers=BROWSER).status_code == 403
    # When she presses it, the page says the replies are being fetched
    response = client.post(
        f"/posts/{post.id}/replies/fetch",
        data={"csrf_token": token, "next": page_url},
        headers=BROWSER,
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == page_url
    assert "Fetching replies from" in client.get(page_url, headers=BROWSER).text
    # When the worker runs
    drain(client)
    page = client.get(page_url, headers=BROWSER).text
    # Then the replies appear in the thread, eve's fetched (signed) from her own server
    assert "carl agrees" in page and "eve wonders" in page and "eve's real words" in page
    assert "invented for eve" not in page and "forged" not in page and "Fetching replies" not in page
    assert stored(client, invented["id"]) is None
    assert {item.path for item in other_peer.fetched} == {
        "/users/eve/statuses/42",
        "/users/eve/statuses/43",
        "/users/eve/statuses/44",
    }
    assert all(item.signature_ok for item in other_peer.fetched)
    for reply in (carls, eves, eves_second):
        row = stored(client, reply["id"])
        assert row is not None and row.in_reply_to_id == post.id


def test_a_local_post_offers_no_remote_replies(client: TestClient, ana: Account) -> None:
    post = publish(client, "ana")
    token = sign_in(client, "ana")
    assert "Load replies" not in client.get(f"/@ana/{post.id}", headers=BROWSER).text
    response = client.post(f"/posts/{post.id}/replies/fetch", data={"csrf_token": token}, headers=BROWSER)
    assert response.status_code == 404


async def _block_domain(services: Services, domain: str) -> None:
    async with services.db.transaction() as session:
        session.add(DomainBlock(domain=domain))


async def _queue_parent(services: Services, parent_id: str) -> None:
    async with services.db.transaction() as session:
        session.add(RemoteFetch(kind=FetchKind.NOTE, target_ap_id=parent_id, depth=1))

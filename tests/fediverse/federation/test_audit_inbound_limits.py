"""Audit findings W4 and W8: what the inbox trusts and what it lets one sender make it do.

W4: a request signed for another server and replayed here with that server's ``Host`` is refused, on the
inbox and on signed GETs, whichever signature scheme it carries. W8: key fetches are shared, bounded per
host, remembered when they fail and cut short by a deadline; a sending server past its allowance gets
``429`` with ``Retry-After``; a note's hashtags and mentions are capped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from activitypub.keys import load_private_key
from activitypub.message_signatures import sign_message
from fediverse.core.config import Settings
from fediverse.federation.keys import KEY_FETCHES_PER_HOST
from fediverse.federation.notes_in import MAX_MENTIONS, MAX_TAGS
from storage.models import Account, InboxItem, Notification, Post, PostTag
from tests.conftest import TEST_BASE_URL
from tests.faulty_peer import Behaviour, FaultyPeer
from tests.fediverse.federation.conftest import PUBLIC, create_of, drain, follow_remote, publish, query
from tests.peers import FakePeer, PeerActor

ANA = f"{TEST_BASE_URL}/users/ana"
#: Short enough that a test waiting on a key that never comes takes a second, long enough for a real one.
KEY_DEADLINE_MS = "1000"


@pytest.fixture
def environment() -> dict[str, str]:
    """Extra ``REVERIE_*`` settings; a test parametrizes this to change them."""
    return {}


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str, environment: dict[str, str]) -> Settings:
    return make_settings(
        database_url,
        REVERIE_ALLOW_PRIVATE_ADDRESSES="true",
        REVERIE_KEY_FETCH_TIMEOUT_MS=KEY_DEADLINE_MS,
        **environment,
    )


@pytest.fixture
def faulty() -> Iterator[FaultyPeer]:
    with FaultyPeer(1).running() as peer:
        yield peer


def like(actor_id: str, serial: int) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor_id}/likes/{serial}",
        "type": "Like",
        "actor": actor_id,
        "object": f"{ANA}/statuses/1",
    }


def post_signed(
    client: TestClient,
    peer: FakePeer,
    actor: PeerActor,
    activity: dict[str, Any],
    *,
    key_id: str | None = None,
    signed_for: str = TEST_BASE_URL,
) -> httpx.Response:
    """POST ``activity`` to our shared inbox, signed (draft-cavage) by ``actor``'s key for the inbox at
    ``signed_for`` and sent with that server's ``Host``, as a replay of a delivery made there would be."""
    body = json.dumps(activity).encode()
    headers = peer.signed_headers(actor, f"{signed_for}/inbox", body, key_id=key_id)
    return client.post("/inbox", content=body, headers=headers)


def stored_ids(client: TestClient) -> set[str]:
    return {row[0] for row in query(client, select(InboxItem.activity_ap_id))}


def all_at_once(count: int, send: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """``send(0)`` … ``send(count - 1)`` concurrently, as a busy peer's delivery workers would."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(send, range(count)))


# -- W4: a signature is valid only at the server it was made for ------------------------------------------


def test_w4_a_delivery_signed_for_another_server_is_refused_here(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ben's delivery to another server (draft-cavage, its Host signed)
    make_user("ana")
    ben = peer.add_actor("ben")
    activity = like(ben.id, 1)
    # When someone replays it to our inbox with that server's Host
    response = post_signed(client, peer, ben, activity, signed_for=other_peer.base_url)
    # Then it is refused as misdirected, and nothing is stored
    assert response.status_code == 401
    assert other_peer.host in response.json()["error"]
    assert "not this server" in response.json()["error"]
    assert stored_ids(client) == set()
    # While the same activity signed for us is accepted
    assert post_signed(client, peer, ben, activity).status_code == 202


def test_w4_an_rfc9421_delivery_for_another_authority_is_refused_here(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ben's RFC 9421 delivery to another server (@target-uri and @authority covered)
    make_user("ana")
    ben = peer.add_actor("ben")
    body = json.dumps(like(ben.id, 1)).encode()

    def signed_for(base_url: str) -> dict[str, str]:
        headers = {"Content-Type": "application/activity+json", "Host": base_url.removeprefix("http://")}
        private_key = load_private_key(ben.keys.private_pem)
        return {
            **headers,
            **sign_message("POST", f"{base_url}/inbox", headers, body, key_id=ben.key_id, private_key=private_key),
        }

    # When it is replayed to our inbox with that server's Host, it is refused and not stored
    response = client.post("/inbox", content=body, headers=signed_for(other_peer.base_url))
    assert response.status_code == 401
    assert other_peer.host in response.json()["error"]
    assert stored_ids(client) == set()
    # While the same signed for us is accepted
    assert client.post("/inbox", content=body, headers=signed_for(TEST_BASE_URL)).status_code == 202


@pytest.mark.parametrize("environment", [{"REVERIE_AUTHORIZED_FETCH": "true"}], ids=["authorized-fetch"])
def test_w4_a_signed_fetch_made_for_another_server_is_refused_here(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given an instance that requires signed fetches, and ben's signed GET of a path on another server
    make_user("ana")
    ben = peer.add_actor("ben")
    post = publish(client, "ana", "for our readers")
    path = post.ap_id.removeprefix(TEST_BASE_URL)
    replayed = peer.signed_get_headers(ben, other_peer.base_url + path)
    # When it is replayed here with that server's Host, it is refused
    response = client.get(path, headers=replayed)
    assert response.status_code == 401
    assert other_peer.host in response.json()["error"]
    # While the same GET signed for us is served
    assert client.get(path, headers=peer.signed_get_headers(ben, post.ap_id)).status_code == 200


# -- W8: key fetches -----------------------------------------------------------------------------------------


def test_w8_a_key_that_cannot_be_fetched_is_asked_for_once_not_per_post(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given signatures naming a key the peer does not have (its owner answers 404)
    make_user("ana")
    signer = peer.add_actor("ben")
    ghost = f"{peer.base_url}/keys/ghost"
    # When twenty activities arrive naming it
    responses = [post_signed(client, peer, signer, like(ghost, n), key_id=f"{ghost}#main-key") for n in range(20)]
    # Then each is refused, and the peer was asked for it once
    assert {response.status_code for response in responses} == {401}
    assert "a moment ago" in responses[-1].json()["error"]
    assert [get.path for get in peer.fetched] == ["/keys/ghost"]
    assert stored_ids(client) == set()


def test_w8_a_key_that_never_comes_gets_401_at_the_deadline(
    client: TestClient, peer: FakePeer, faulty: FaultyPeer, make_user: Callable[..., Account]
) -> None:
    # Given a server that accepts the connection for a key and never answers
    make_user("ana")
    port = faulty.ports[0]
    faulty.set(port, Behaviour.HANG)
    stalled = f"http://127.0.0.1:{port}/users/slow"
    # When an activity signed with that key arrives
    response = post_signed(client, peer, peer.add_actor("ben"), like(stalled, 1), key_id=f"{stalled}#main-key")
    # Then it is refused once the key fetch's deadline passes, naming it
    assert response.status_code == 401
    assert "fetching the signer's key took longer than 1 s" in response.json()["error"]
    assert faulty.attempts[port] == 1


def test_w8_concurrent_posts_naming_one_new_key_share_one_fetch(
    client: TestClient, peer: FakePeer, faulty: FaultyPeer, make_user: Callable[..., Account]
) -> None:
    # Given a key on a server that never answers
    make_user("ana")
    port = faulty.ports[0]
    faulty.set(port, Behaviour.HANG)
    stalled = f"http://127.0.0.1:{port}/users/slow"
    signer = peer.add_actor("ben")
    # When twelve activities naming it arrive at once
    responses = all_at_once(
        12, lambda n: post_signed(client, peer, signer, like(stalled, n), key_id=f"{stalled}#main-key")
    )
    # Then all are refused, and that server was asked for the key once
    assert {response.status_code for response in responses} == {401}
    assert faulty.attempts[port] == 1


def test_w8_key_fetches_to_one_host_are_bounded(
    client: TestClient, peer: FakePeer, faulty: FaultyPeer, make_user: Callable[..., Account]
) -> None:
    # Given a server that never answers
    make_user("ana")
    port = faulty.ports[0]
    faulty.set(port, Behaviour.HANG)
    signer = peer.add_actor("ben")

    def send(n: int) -> httpx.Response:
        stranger = f"http://127.0.0.1:{port}/users/u{n}"
        return post_signed(client, peer, signer, like(stranger, n), key_id=f"{stranger}#main-key")

    # When twelve activities naming twelve different keys there arrive at once
    responses = all_at_once(12, send)
    # Then all are refused, and that server got no more key requests than one host's share
    assert {response.status_code for response in responses} == {401}
    assert 1 <= faulty.attempts[port] <= KEY_FETCHES_PER_HOST


# -- W8: the sending server's allowance ------------------------------------------------------------------


@pytest.mark.parametrize(
    "environment", [{"REVERIE_INBOX_RATE_PER_SECOND": "1", "REVERIE_INBOX_RATE_BURST": "3"}], ids=["3-then-1-a-second"]
)
def test_w8_a_server_past_its_allowance_gets_429_with_retry_after(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given a server allowed bursts of three activities (one a second after that)
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    # And forgeries in ben's name (eve's key), which do not use up his server's allowance
    forged = [post_signed(client, peer, eve, like(ben.id, 100 + n), key_id=ben.key_id) for n in range(5)]
    assert {response.status_code for response in forged} == {401}
    # When ben's server sends faster than that
    responses = []
    for serial in range(20):
        responses.append(post_signed(client, peer, ben, like(ben.id, serial)))
        if responses[-1].status_code == 429:
            break
    # Then the first three are accepted and a later one is told when to come back
    assert [response.status_code for response in responses[:3]] == [202, 202, 202]
    refused = responses[-1]
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    # And only what was accepted is stored
    accepted = {like(ben.id, serial)["id"] for serial, response in enumerate(responses) if response.status_code == 202}
    assert stored_ids(client) == accepted
    # While another server is not held back
    zed = other_peer.add_actor("zed", key_index=2)
    assert post_signed(client, other_peer, zed, like(zed.id, 1)).status_code == 202


# -- W8: hashtags and mentions per note ------------------------------------------------------------------


def test_w8_a_note_keeps_its_first_fifty_hashtags_and_mentions(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows ben
    make_user("ana")
    ben = peer.add_actor("ben")
    follow_remote(client, peer, "ana", ben)
    # When ben posts a note with a thousand hashtags and sixty mentions, ana's the sixtieth
    hashtags = [{"type": "Hashtag", "name": f"#tag{n:04}"} for n in range(1000)]
    mentions = [{"type": "Mention", "href": f"{peer.base_url}/users/m{n}"} for n in range(59)]
    mentions.append({"type": "Mention", "href": ANA})
    note = {
        "id": f"{ben.id}/statuses/1",
        "type": "Note",
        "attributedTo": ben.id,
        "content": "<p>so many</p>",
        "to": [PUBLIC],
        "cc": [f"{ben.id}/followers"],
        "tag": hashtags + mentions,
    }
    assert post_signed(client, peer, ben, create_of(ben, note)).status_code == 202
    drain(client)
    # Then the note is kept, with its first fifty hashtags only
    [(post_id,)] = query(client, select(Post.id).where(Post.ap_id == note["id"]))
    tags = sorted(row[0] for row in query(client, select(PostTag.tag).where(PostTag.post_id == post_id)))
    assert tags == [f"tag{n:04}" for n in range(MAX_TAGS)]
    # And a mention past the fiftieth is ignored: ana is not told she was mentioned
    assert len(mentions) > MAX_MENTIONS
    assert query(client, select(Notification.id).where(Notification.post_id == post_id)) == []

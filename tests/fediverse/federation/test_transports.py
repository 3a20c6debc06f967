"""The delivery worker's aiohttp transport against a real HTTP server on 127.0.0.1: what the inbox
receives, and how each answer is classified."""

from __future__ import annotations

from datetime import timedelta

import pytest

from activitypub.delivery import DeliveryOutcome
from activitypub.keys import load_private_key
from fediverse.federation.transports import AiohttpTransport, HttpxTransport, TransportFactory, TransportOptions
from tests.keys import peer_key
from tests.peers import FakePeer
from tests.processes import free_port

pytestmark = pytest.mark.anyio

KEY_ID = "https://local.example/users/ana#main-key"
BODY = b'{"type":"Create","id":"https://local.example/users/ana/statuses/1/activity"}'


@pytest.fixture
def trusting_peer(peer: FakePeer) -> FakePeer:
    peer.trust({"publicKey": {"id": KEY_ID, "publicKeyPem": peer_key(1).public_pem}})
    return peer


async def send(
    peer_url: str, *, factory: TransportFactory = AiohttpTransport, allow_private: bool = True
) -> DeliveryOutcome:
    transport = factory(
        TransportOptions(user_agent="Reverie/test", allow_private=allow_private, max_connections=8, per_host=2)
    )
    try:
        return await transport.send(
            peer_url, BODY, key_id=KEY_ID, private_key=load_private_key(peer_key(1).private_pem)
        )
    finally:
        await transport.aclose()


@pytest.mark.parametrize("factory", [AiohttpTransport, HttpxTransport])
async def test_a_delivery_arrives_signed_as_mastodon_signs(trusting_peer: FakePeer, factory: TransportFactory) -> None:
    outcome = await send(f"{trusting_peer.base_url}/users/ben/inbox?x=1", factory=factory)
    assert outcome.kind == "sent" and outcome.status == 202
    (received,) = trusting_peer.posts()
    assert received.signature_ok  # checked by pyhttpsig, not our code
    assert received.body == BODY
    assert received.headers["content-type"] == "application/activity+json"
    assert received.headers["user-agent"] == "Reverie/test"


async def test_aiohttp_asks_for_an_uncompressed_answer(trusting_peer: FakePeer) -> None:
    """It never inflates what a peer sends, so it must not invite compression either."""
    await send(f"{trusting_peer.base_url}/inbox")
    (received,) = trusting_peer.posts()
    assert "accept-encoding" not in received.headers


@pytest.mark.parametrize(
    ("answer", "kind", "retry_after"),
    [
        (410, "gone", None),
        ((429, {"Retry-After": "120"}), "retry", timedelta(seconds=120)),
        (503, "retry", None),
        (401, "retry", None),
        ((302, {"Location": "http://127.0.0.1:1/elsewhere"}), "retry", None),
        (422, "drop", None),
    ],
)
async def test_answers_are_classified_like_mastodon(
    trusting_peer: FakePeer, answer: int | tuple[int, dict[str, str]], kind: str, retry_after: timedelta | None
) -> None:
    trusting_peer.answer_inbox_with(answer)
    outcome = await send(f"{trusting_peer.base_url}/inbox")
    assert (outcome.kind, outcome.retry_after) == (kind, retry_after)
    assert len(trusting_peer.posts()) == 1  # redirects are not followed


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_private_addresses_are_refused_before_anything_is_sent(trusting_peer: FakePeer, host: str) -> None:
    outcome = await send(f"http://{host}:{trusting_peer.port}/inbox", allow_private=False)
    assert outcome.kind == "drop"
    assert "non-public address" in outcome.reason
    assert trusting_peer.posts() == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/inbox", "http://user:pw@127.0.0.1/inbox", "not a url"])
async def test_unusable_inbox_urls_are_dropped(url: str) -> None:
    assert (await send(url)).kind == "drop"


async def test_an_unreachable_inbox_is_retried_later() -> None:
    outcome = await send(f"http://127.0.0.1:{free_port()}/inbox")
    assert outcome.kind == "retry"
    assert "network error" in outcome.reason

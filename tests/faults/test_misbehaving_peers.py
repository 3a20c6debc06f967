"""Remote servers that hang, reset connections, redirect in loops or answer 502/429: deliveries retry on
schedule and succeed once the peer recovers, and the web and the inbox stay responsive meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from fediverse.core.config import Settings
from fediverse.social import actions
from fediverse.social.posts import PostDraft
from fediverse.web.app import create_app
from storage.models import Delivery, WorkState
from storage.types import utcnow
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.faulty_peer import Behaviour, FaultyPeer
from tests.fediverse.federation.conftest import drain, send_activity
from tests.peers import running_peer
from tests.seeding import create_user_with_followers

pytestmark = pytest.mark.slow

BEHAVIOURS = [Behaviour.HANG, Behaviour.RESET, Behaviour.REDIRECT_LOOP, Behaviour.BAD_GATEWAY, Behaviour.TOO_MANY]


@pytest.fixture
def faulty() -> Iterator[FaultyPeer]:
    with FaultyPeer(len(BEHAVIOURS)).running() as peer:
        yield peer


def _deliveries(client: TestClient) -> dict[str, Delivery]:
    async def load() -> dict[str, Delivery]:
        async with services_of(client).db.session() as session:
            return {row.inbox_url: row for row in await session.scalars(select(Delivery))}

    return run_in_app(client, load)


def _make_all_due(client: TestClient) -> None:
    async def advance() -> None:
        async with services_of(client).db.transaction() as session:
            await session.execute(update(Delivery).values(next_attempt_at=utcnow()))

    run_in_app(client, advance)


def test_misbehaving_peers_are_retried_until_they_recover(
    make_settings: Callable[..., Settings], database_url: str, faulty: FaultyPeer
) -> None:
    settings = make_settings(database_url, REVERIE_ALLOW_PRIVATE_ADDRESSES="true", REVERIE_DELIVERY_TIMEOUT_SECONDS="2")
    # Given followers on five hosts that each misbehave differently
    for port, behaviour in zip(faulty.ports, BEHAVIOURS, strict=True):
        faulty.set(port, behaviour)
    create_user_with_followers(settings.database_url, TEST_BASE_URL, "ana", [faulty.inbox_url(p) for p in faulty.ports])
    with running_peer() as peer, TestClient(create_app(settings), base_url=TEST_BASE_URL) as client:
        ben = peer.add_actor("ben")
        services = services_of(client)
        post = run_in_app(client, actions.publish, services, "ana", PostDraft(caption="through the storm"))
        # When the worker sends while one host hangs…
        sending = threading.Thread(target=drain, args=(client,))
        sending.start()
        hang_port = faulty.ports[BEHAVIOURS.index(Behaviour.HANG)]
        deadline = time.monotonic() + 10
        while faulty.attempts[hang_port] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert faulty.attempts[hang_port] == 1
        # …then pages and the inbox still answer while that delivery is stuck
        assert client.get("/users/ana", headers={"Accept": "application/activity+json"}).status_code == 200
        follow = {
            "id": f"{peer.base_url}/f/1",
            "type": "Follow",
            "actor": ben.id,
            "object": f"{TEST_BASE_URL}/users/ana",
        }
        assert send_activity(client, peer, ben, follow) == 202
        sending.join(timeout=60)
        assert not sending.is_alive()
        # …every delivery is scheduled for a retry, and the 429's Retry-After is honoured
        rows = _deliveries(client)
        for port in faulty.ports:
            row = rows[faulty.inbox_url(port)]
            assert row.state == WorkState.QUEUED and row.attempts == 1 and row.last_error
            assert row.next_attempt_at > utcnow()
        too_many = rows[faulty.inbox_url(faulty.ports[BEHAVIOURS.index(Behaviour.TOO_MANY)])]
        assert too_many.next_attempt_at >= utcnow() + timedelta(seconds=110)
        assert all(not faulty.received(port) for port in faulty.ports)
        # When the hosts recover and the retries fall due, each gets the activity exactly once
        for port in faulty.ports:
            faulty.set(port, Behaviour.ACCEPT)
        _make_all_due(client)
        drain(client)
        for port in faulty.ports:
            assert faulty.received(port) == [f"{post.ap_id}/activity"]
        assert {row.state for row in _deliveries(client).values()} == {WorkState.DONE}

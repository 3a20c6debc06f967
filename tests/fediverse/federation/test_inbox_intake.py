"""What a peer sees from our inbox while the checks that need the database run once per batch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from fediverse.federation.inbox import intake as intake_module
from fediverse.federation.inbox.intake import QUIET_AFTER, InboxIntake
from storage.db import Database
from storage.models import Account, DomainBlock, InboxItem
from storage.types import utcnow
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.federation.conftest import send_activity
from tests.peers import FakePeer, PeerActor


def like(peer: FakePeer, actor: PeerActor, serial: int) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{peer.base_url}/likes/{serial}",
        "type": "Like",
        "actor": actor.id,
        "object": f"{TEST_BASE_URL}/users/ana/statuses/1",
    }


def stored(client: TestClient) -> dict[str, InboxItem]:
    async def load() -> dict[str, InboxItem]:
        async with services_of(client).db.session() as session:
            return {row.activity_ap_id: row for row in await session.scalars(select(InboxItem))}

    return run_in_app(client, load)


def change(client: TestClient, *statements: Any) -> None:
    async def apply() -> None:
        async with services_of(client).db.transaction() as session:
            for statement in statements:
                if isinstance(statement, DomainBlock):
                    session.add(statement)
                else:
                    await session.execute(statement)

    run_in_app(client, apply)


def test_a_domain_blocked_after_earlier_activities_is_refused_from_the_next_one(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given a peer whose activities we stored
    make_user("ana")
    ben = peer.add_actor("ben")
    assert send_activity(client, peer, ben, like(peer, ben, 1)) == 202
    # When an admin blocks its domain
    change(client, DomainBlock(domain="127.0.0.1", reason="spam"))
    # Then its next activity is refused, on both inboxes, and not stored
    assert send_activity(client, peer, ben, like(peer, ben, 2)) == 403
    assert send_activity(client, peer, ben, like(peer, ben, 3), path="/users/ana/inbox") == 403
    assert set(stored(client)) == {f"{peer.base_url}/likes/1"}


def test_a_disabled_account_stops_receiving_at_once(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given an account that received an activity (so its id is cached)
    make_user("ana")
    ben = peer.add_actor("ben")
    assert send_activity(client, peer, ben, like(peer, ben, 1), path="/users/ana/inbox") == 202
    # When it is disabled
    change(client, update(Account).where(Account.username == "ana").values(disabled_at=utcnow()))
    # Then its inbox answers 404, now and later, and keeps nothing
    assert send_activity(client, peer, ben, like(peer, ben, 2), path="/users/ana/inbox") == 404
    assert send_activity(client, peer, ben, like(peer, ben, 3), path="/users/ana/inbox") == 404
    assert set(stored(client)) == {f"{peer.base_url}/likes/1"}
    # And the shared inbox still takes activities for everyone else
    assert send_activity(client, peer, ben, like(peer, ben, 4)) == 202


def test_an_unknown_account_is_refused_before_the_body_is_read(client: TestClient) -> None:
    response = client.post("/users/nobody/inbox", content=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 404


def test_a_replayed_activity_is_accepted_and_stored_once(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    ben = peer.add_actor("ben")
    activity = like(peer, ben, 1)
    assert [send_activity(client, peer, ben, activity) for _ in range(3)] == [202, 202, 202]
    assert list(stored(client)) == [activity["id"]]


def test_the_stored_payload_is_the_document_the_peer_sent_whatever_its_encoding(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given activities sent as UTF-8 (stored as received) and as UTF-16 (JSON allows it)
    make_user("ana")
    ben = peer.add_actor("ben")
    plain = like(peer, ben, 1) | {"content": "café ☕"}
    wide = like(peer, ben, 2) | {"content": "naïve"}
    assert send_activity(client, peer, ben, plain) == 202
    body = json.dumps(wide).encode("utf-16")
    headers = peer.signed_headers(ben, TEST_BASE_URL + "/inbox", body)
    assert client.post("/inbox", content=body, headers=headers).status_code == 202
    # Then the worker will read back exactly those documents
    rows = stored(client)
    assert rows[plain["id"]].payload == plain
    assert rows[wide["id"]].payload == wide


@pytest.mark.anyio
async def test_an_in_process_worker_waits_for_a_quiet_inbox_but_not_forever(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No wall-clock bounds asserted: each case would hang (and hit the 10 s guard) or return too early
    if the rule were broken, however loaded the machine is."""
    database = Database(database_url)
    loop = asyncio.get_running_loop()
    try:
        async with InboxIntake(database) as intake, asyncio.timeout(10):
            await intake.store(inbox_row("https://peer.example/likes/1"))
            arrived_before = loop.time()
            await intake.store(inbox_row("https://peer.example/likes/2"))
            await intake.wait_until_quiet(max_wait=30)
            assert loop.time() - arrived_before >= QUIET_AFTER  # waited for a quiet moment after the last one

            monkeypatch.setattr(intake_module, "QUIET_AFTER", 3600)  # "quiet" now means an hour without arrivals
            await intake.store(inbox_row("https://peer.example/likes/3"))
            await intake.wait_until_quiet(max_wait=0.05)  # the bound wins: returns although never quiet
        async with InboxIntake(database) as idle, asyncio.timeout(10):
            await idle.wait_until_quiet(max_wait=3600)  # nothing ever arrived: no wait at all
    finally:
        await database.dispose()


def inbox_row(activity_id: str) -> dict[str, Any]:
    now = utcnow()
    return {
        "activity_ap_id": activity_id,
        "actor_ap_id": "https://peer.example/users/ben",
        "type": "Like",
        "payload": {"id": activity_id},
        "recipient_account_id": None,
        "state": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "received_at": now,
    }

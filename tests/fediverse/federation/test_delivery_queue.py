"""A slow host does not hold back deliveries to everyone else."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import insert, select, update
from starlette.testclient import TestClient

from fediverse.federation.delivery_queue import DeliveryQueue
from fediverse.services import Services
from fediverse.social import actions
from fediverse.social.posts import PostDraft
from storage.models import Account, Actor, Delivery, Follow, FollowState, WorkState
from storage.types import utcnow
from tests.conftest import run_in_app, services_of
from tests.peers import FakePeer


@contextmanager
def stalled_server() -> Iterator[tuple[str, threading.Event, list[bytes]]]:
    """An inbox on 127.0.0.1 that reads each request and answers 202 only once ``release`` is set."""
    listener = socket.create_server(("127.0.0.1", 0))
    release, received = threading.Event(), []

    def serve(connection: socket.socket) -> None:
        with connection:
            received.append(connection.recv(65536))
            release.wait(30)
            connection.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", release, received
    finally:
        release.set()
        listener.close()


def add_follower(client: TestClient, followee: str, ap_id: str, inbox: str) -> None:
    async def add() -> None:
        async with services_of(client).db.transaction() as session:
            followee_id = await session.scalar(select(Account.actor_id).where(Account.username == followee))
            now = utcnow()
            actor_id = (
                await session.execute(
                    insert(Actor)
                    .values(ap_id=ap_id, username="f", domain=inbox.split("/")[2], inbox_url=inbox, fetched_at=now)
                    .returning(Actor.id)
                )
            ).scalar_one()
            session.add(Follow(follower_id=actor_id, followee_id=followee_id, state=FollowState.ACCEPTED))

    run_in_app(client, add)


def test_a_stalled_host_does_not_hold_back_the_next_posts_to_others(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    services = services_of(client)
    queue = DeliveryQueue(services, patience=0.2)
    try:
        with stalled_server() as (stalled_url, release, stalled_received):
            # Given followers on a healthy server and on one that has stopped answering
            add_follower(client, "ana", f"{peer.base_url}/users/ben", f"{peer.base_url}/users/ben/inbox")
            add_follower(client, "ana", f"{stalled_url}/users/sam", f"{stalled_url}/users/sam/inbox")
            # When ana posts twice, and the worker runs after each post
            for caption in ("first light", "second light"):
                run_in_app(client, actions.publish, services, "ana", PostDraft(caption=caption))
                run_in_app(client, queue.run_once)
            # Then the healthy server has both posts while the stalled one has not answered the first
            contents = [activity["object"]["content"] for activity in peer.activities("Create")]
            assert len(contents) == 2 and "first light" in contents[0] and "second light" in contents[1]
            assert len(stalled_received) >= 1 and not release.is_set()
            # And once it answers, its deliveries are recorded as sent
            release.set()
    finally:
        run_in_app(client, queue.aclose)

    async def states() -> dict[str, str]:
        async with services.db.session() as session:
            return {row.inbox_url: row.state for row in await session.scalars(select(Delivery))}

    assert set(run_in_app(client, states).values()) == {WorkState.DONE}


def test_a_worker_never_sends_its_own_in_flight_delivery_again_when_its_claim_lapses(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    services = services_of(client)
    queue = DeliveryQueue(services, patience=0.2)
    try:
        with stalled_server() as (stalled_url, release, received):
            # Given a delivery still being sent to a server that has not answered yet
            add_follower(client, "ana", f"{stalled_url}/users/sam", f"{stalled_url}/users/sam/inbox")
            run_in_app(client, actions.publish, services, "ana", PostDraft(caption="slow light"))
            assert run_in_app(client, queue.run_once) == 1
            # When its claim lapses (a renewal came late: a busy machine, a slow database)
            run_in_app(client, expire_claims, services)
            # Then the worker's next pass does not claim it again: one copy is on its way already
            assert run_in_app(client, queue.run_once) == 0
            release.set()
    finally:
        run_in_app(client, queue.aclose)
    assert len(received) == 1


async def expire_claims(services: Services) -> None:
    async with services.db.transaction() as session:
        await session.execute(update(Delivery).values(locked_until=utcnow() - timedelta(seconds=1)))

"""Fixtures for federation flows: the app with private addresses allowed, and fake peers on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from starlette.testclient import TestClient

from fediverse.core.config import Settings
from fediverse.social import actions
from fediverse.social.posts import PostDraft
from fediverse.web.app import create_app
from storage.models import Actor, Post
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.peers import FakePeer, PeerActor, running_peer

T = TypeVar("T")
DATA = Path(__file__).resolve().parents[2] / "data"
AS2 = {"Accept": "application/activity+json"}


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    return make_settings(database_url, REVERIE_ALLOW_PRIVATE_ADDRESSES="true")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=TEST_BASE_URL) as test_client:
        yield test_client


@pytest.fixture
def peer() -> Iterator[FakePeer]:
    with running_peer() as fake:
        yield fake


@pytest.fixture
def other_peer() -> Iterator[FakePeer]:
    """A second server, for what crosses origins."""
    with running_peer() as fake:
        yield fake


def drain(client: TestClient) -> int:
    """Run the worker until nothing is due (inbox items, then the deliveries they cause)."""
    worker = client.app_state["worker"]
    return run_in_app(client, worker.drain)


def send_activity(
    client: TestClient, peer: FakePeer, actor: PeerActor, activity: dict[str, Any], *, path: str = "/inbox"
) -> int:
    """POST ``activity`` to our inbox signed by ``actor``'s key, as the peer's server would."""
    body = json.dumps(activity).encode()
    headers = peer.signed_headers(actor, TEST_BASE_URL + path, body)
    return client.post(path, content=body, headers=headers).status_code


def deliver(client: TestClient, peer: FakePeer, actor: PeerActor, activity: dict[str, Any]) -> None:
    """The peer's server POSTs ``activity`` to our shared inbox signed by ``actor``; the worker applies it."""
    assert send_activity(client, peer, actor, activity) == 202
    drain(client)


PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def remote_note(author: PeerActor, number: int, content: str = "<p>hello</p>", **fields: Any) -> dict[str, Any]:
    """A public Note by a peer's actor, shaped as Mastodon writes one; ``fields`` add or override."""
    return {
        "id": f"{author.id}/statuses/{number}",
        "type": "Note",
        "attributedTo": author.id,
        "content": content,
        "to": [PUBLIC],
        "cc": [f"{author.id}/followers"],
        **fields,
    }


def create_of(actor: PeerActor, obj: dict[str, Any] | str, suffix: str = "") -> dict[str, Any]:
    """The ``Create`` of ``obj`` by ``actor`` (Mastodon's id shape: the object id plus ``/activity``)."""
    object_id = obj if isinstance(obj, str) else obj["id"]
    return {"id": f"{object_id}/activity{suffix}", "type": "Create", "actor": actor.id, "object": obj}


def act(client: TestClient, action: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run a ``fediverse.social.actions`` function (what the web UI and the CLI call) inside the app."""
    return run_in_app(client, action, services_of(client), *args)


def known_actor(client: TestClient, remote: PeerActor) -> Actor:
    """The ``Actor`` row of a peer's actor, fetched from the peer the first time."""
    return run_in_app(client, services_of(client).resolver.actor, remote.id)


def publish(client: TestClient, username: str, caption: str = "a quiet harbour at dawn", **draft: Any) -> Post:
    return act(client, actions.publish, username, PostDraft(caption=caption, **draft))


def follow_remote(client: TestClient, peer: FakePeer, username: str, remote: PeerActor) -> dict[str, Any]:
    """A local account follows a peer's actor, and the peer accepts (embedding the Follow, as Mastodon does).
    Returns the Follow the peer received."""
    act(client, actions.follow, username, remote.id)
    drain(client)
    follow = [item for item in peer.activities("Follow") if item["object"] == remote.id][-1]
    accept = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{remote.id}#accepts/follows/{len(peer.activities())}",
        "type": "Accept",
        "actor": remote.id,
        "object": {key: follow[key] for key in ("id", "type", "actor", "object")},
    }
    assert send_activity(client, peer, remote, accept) == 202
    drain(client)
    return follow


def remote_follows(client: TestClient, peer: FakePeer, remote: PeerActor, username: str) -> dict[str, Any]:
    """A peer's actor follows a local account (accepted at once: the account does not approve followers)."""
    follow = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{remote.id}#follows/{len(peer.activities())}-{username}",
        "type": "Follow",
        "actor": remote.id,
        "object": f"{TEST_BASE_URL}/users/{username}",
    }
    assert send_activity(client, peer, remote, follow) == 202
    drain(client)
    return follow


def query(client: TestClient, statement: Any) -> list[Any]:
    """Rows of a read-only ``select`` against the app's database."""

    async def run() -> list[Any]:
        async with services_of(client).db.session() as session:
            return list((await session.execute(statement)).all())

    return run_in_app(client, run)


def load_payload(name: str, hosts: dict[str, str]) -> dict[str, Any]:
    """A real-world payload from ``tests/data`` with its hosts (and any other strings) rewritten."""
    text = (DATA / name).read_text()
    for old, new in sorted(hosts.items(), key=lambda item: -len(item[0])):
        text = text.replace(old, new)
    document: dict[str, Any] = json.loads(text)
    return document

"""Fixtures for federation flows: the app with private addresses allowed, and fake peers on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from fediverse.app import create_app
from fediverse.config import Settings
from tests.conftest import TEST_BASE_URL, run_in_app
from tests.peers import FakePeer, PeerActor, running_peer


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

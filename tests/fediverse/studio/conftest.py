"""Fixtures for the studio: a signed-in browser session against the app, and small helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import pytest
from starlette.responses import Response
from starlette.testclient import TestClient

from fediverse.core.accounts import create_account
from fediverse.core.config import Settings
from fediverse.web.app import create_app
from fediverse.web.sessions import SESSION_COOKIE, start_session
from storage.models import Account
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.federation.conftest import peer, send_activity
from tests.image_service import FakeImagesAPI, running_images_api
from tests.peers import FakePeer, PeerActor

__all__ = ["peer"]  # the fake remote server fixture, shared with the federation flows

#: Small and quick to paint: the procedural painter takes a few milliseconds at this size.
SMALL = {"width": 64, "height": 64}


@dataclass
class Browser:
    """A signed-in person: the client carries their session cookie; ``headers`` add the CSRF token."""

    client: TestClient
    account: Account
    csrf_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf_token}

    def get(self, path: str, **options: Any) -> Any:
        return self.client.get(path, **options)

    def post(self, path: str, **options: Any) -> Any:
        return self.client.post(path, headers={**self.headers, **options.pop("headers", {})}, **options)

    def patch(self, path: str, **options: Any) -> Any:
        return self.client.patch(path, headers={**self.headers, **options.pop("headers", {})}, **options)

    def delete(self, path: str, **options: Any) -> Any:
        return self.client.delete(path, headers={**self.headers, **options.pop("headers", {})}, **options)


def sign_in(client: TestClient, account: Account) -> Browser:
    """Start a real session (``fediverse.web.sessions.start_session``) and keep its cookie on ``client``."""
    response = Response()
    web_session = run_in_app(client, start_session, services_of(client), account, response)
    cookie = SimpleCookie(response.headers["set-cookie"])
    client.cookies.set(SESSION_COOKIE, cookie[SESSION_COOKIE].value)
    return Browser(client, account, web_session.csrf_token)


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    """Peers in these tests are fake servers on 127.0.0.1."""
    return make_settings(database_url, REVERIE_ALLOW_PRIVATE_ADDRESSES="true")


@pytest.fixture
def ana(client: TestClient, make_user: Callable[..., Account]) -> Browser:
    return sign_in(client, make_user("ana"))


def drain(client: TestClient) -> int:
    """Run the worker until nothing is due or running (jobs, then the deliveries posts cause)."""
    return run_in_app(client, client.app_state["worker"].drain)


def generate(browser: Browser, **request: Any) -> dict[str, Any]:
    """Ask for images, run the worker, and return the finished job's status document."""
    created = browser.post("/api/generations", json={"prompt": "a calm lake at dawn", **SMALL, **request})
    assert created.status_code == 202, created.text
    drain(browser.client)
    status = browser.get(f"/api/generations/{created.json()['id']}")
    assert status.status_code == 200
    return status.json()  # type: ignore[no-any-return]


def follow_from(client: TestClient, peer: FakePeer, username: str, follower: str = "ben") -> PeerActor:
    """A remote account on ``peer`` follows the local ``username`` (accepted at once); the peer trusts our key."""
    remote = peer.add_actor(follower)
    peer.trust(client.get(f"/users/{username}", headers={"Accept": "application/activity+json"}).json())
    follow = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{peer.base_url}/follows/{follower}-{username}",
        "type": "Follow",
        "actor": remote.id,
        "object": f"{TEST_BASE_URL}/users/{username}",
    }
    assert send_activity(client, peer, remote, follow) == 202
    drain(client)
    assert peer.activities("Accept")
    return remote


@pytest.fixture
def client_with(make_settings: Callable[..., Settings], database_url: str) -> Iterator[Callable[..., TestClient]]:
    """Start the app with extra settings: ``client_with(REVERIE_AI_TAG="")``."""
    clients: list[TestClient] = []

    def start(**environment: str) -> TestClient:
        client = TestClient(create_app(make_settings(database_url, **environment)), base_url=TEST_BASE_URL)
        clients.append(client.__enter__())
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def create_user(client: TestClient, username: str) -> Account:
    services = services_of(client)
    return run_in_app(client, create_account, services.db, services.urls, username)


@pytest.fixture
def images() -> Iterator[tuple[FakeImagesAPI, str]]:
    """A fake OpenAI-compatible image service on 127.0.0.1 and its URL."""
    with running_images_api() as running:
        yield running


def openai_settings(url: str, **extra: str) -> dict[str, str]:
    return {"REVERIE_GENERATOR": "openai", "REVERIE_OPENAI_BASE_URL": url, "REVERIE_OPENAI_MODEL": "dall-e-3", **extra}

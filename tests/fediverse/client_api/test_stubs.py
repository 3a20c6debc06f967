"""What Reverie does not have still answers in the shape a client expects, with the scope Mastodon asks
for, instead of a 404 that apps read as a broken server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from storage.models import Account

Tokens = Callable[..., dict[str, str]]
Users = Callable[..., Account]

FOR_USERS = [
    ("/api/v1/announcements", "read"),
    ("/api/v1/suggestions", "read"),
    ("/api/v2/suggestions", "read"),
    ("/api/v1/followed_tags", "read:follows"),
    ("/api/v1/conversations", "read:statuses"),
    ("/api/v1/scheduled_statuses", "read:statuses"),
]
PUBLIC = ["/api/v1/trends", "/api/v1/trends/tags", "/api/v1/trends/statuses", "/api/v1/trends/links"]


@pytest.mark.parametrize(("path", "scope"), FOR_USERS)
def test_empty_lists_for_users(client: TestClient, make_user: Users, token_for: Tokens, path: str, scope: str) -> None:
    ana = make_user("ana")
    response = client.get(path, headers=token_for(ana, scope))
    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["access-control-allow-origin"] == "*"
    assert client.get(path).status_code == 401
    assert client.get(path).json()["error"]
    assert client.get(path, headers=token_for(ana, "write push")).status_code == 403


@pytest.mark.parametrize("path", PUBLIC)
def test_trends_are_public_and_empty(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == []


def test_push_subscription(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana = make_user("ana")
    path = "/api/v1/push/subscription"
    missing = client.get(path, headers=token_for(ana, "push"))
    assert missing.status_code == 404
    assert missing.json() == {"error": "Record not found"}
    assert client.delete(path, headers=token_for(ana, "push")).json() == {}
    made = client.post(
        path, json={"subscription": {"endpoint": "https://push.example"}}, headers=token_for(ana, "push")
    )
    assert made.status_code == 422
    assert client.get(path, headers=token_for(ana, "read")).status_code == 403
    assert client.get(path).status_code == 401


def test_translation_languages(client: TestClient) -> None:
    response = client.get("/api/v1/instance/translation_languages")
    assert response.status_code == 200
    assert response.json() == {}

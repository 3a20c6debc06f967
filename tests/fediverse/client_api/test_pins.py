"""Pinned posts through the client API (``POST /api/v1/statuses/:id/pin`` and ``unpin``, ``pinned`` in the
status for its author, ``GET /api/v1/accounts/:id/statuses?pinned=true``) and in our web UI (pinned first
on the profile, pin and unpin on the post page). Federation of pins: tests/fediverse/federation/test_pins.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from fediverse.social.pins import MAX_PINS
from storage.models import Account
from tests.fediverse.client_api.posting import check_status
from tests.fediverse.web.conftest import BROWSER, PASSWORD, csrf_of, sign_in

Headers = Callable[..., dict[str, str]]


def post(client: TestClient, headers: dict[str, str], text: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/statuses", json={"status": text, **fields}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def pinned_ids(client: TestClient, account: Account, headers: dict[str, str] | None = None) -> list[str]:
    response = client.get(f"/api/v1/accounts/{account.actor_id}/statuses?pinned=true", headers=headers or {})
    assert response.status_code == 200, response.text
    return [status["id"] for status in response.json()]


def test_pin_and_unpin_through_the_api(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    mine = token_for(ana)
    first, second = post(client, mine, "first light"), post(client, mine, "second light")
    pinned = client.post(f"/api/v1/statuses/{first['id']}/pin", headers=mine)
    assert pinned.status_code == 200 and pinned.json()["pinned"] is True
    check_status(pinned.json())
    assert client.post(f"/api/v1/statuses/{second['id']}/pin", headers=mine).json()["pinned"] is True
    # Pinning twice changes nothing; the newest pin comes first, for anyone
    assert client.post(f"/api/v1/statuses/{first['id']}/pin", headers=mine).json()["pinned"] is True
    assert pinned_ids(client, ana) == [second["id"], first["id"]]
    assert pinned_ids(client, ana, token_for(ben)) == [second["id"], first["id"]]
    assert pinned_ids(client, ben) == []
    # ``pinned`` is the author's to know
    assert client.get(f"/api/v1/statuses/{first['id']}", headers=mine).json()["pinned"] is True
    assert client.get(f"/api/v1/statuses/{first['id']}", headers=token_for(ben)).json()["pinned"] is False
    home = client.get("/api/v1/timelines/home", headers=mine).json()
    assert {status["id"]: status["pinned"] for status in home} == {first["id"]: True, second["id"]: True}
    # Unpinning
    unpinned = client.post(f"/api/v1/statuses/{second['id']}/unpin", headers=mine)
    assert unpinned.status_code == 200 and unpinned.json()["pinned"] is False
    assert pinned_ids(client, ana) == [first["id"]]
    assert client.post(f"/api/v1/statuses/{second['id']}/unpin", headers=mine).json()["pinned"] is False


def test_what_cannot_be_pinned(client: TestClient, make_user: Callable[..., Account], token_for: Headers) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    mine = token_for(ana)
    posts = [post(client, mine, f"picture {number}") for number in range(MAX_PINS + 1)]
    for status in posts[:MAX_PINS]:
        assert client.post(f"/api/v1/statuses/{status['id']}/pin", headers=mine).status_code == 200
    beyond = client.post(f"/api/v1/statuses/{posts[-1]['id']}/pin", headers=mine)
    assert beyond.status_code == 422 and "at most 5" in beyond.json()["error"]
    # Someone else's post, a followers-only or direct one, a boost: 422 as Mastodon's validation
    assert client.post(f"/api/v1/statuses/{posts[0]['id']}/pin", headers=token_for(ben)).status_code == 422
    quiet = post(client, mine, "for friends", visibility="private")
    client.post(f"/api/v1/statuses/{posts[0]['id']}/unpin", headers=mine)
    refused = client.post(f"/api/v1/statuses/{quiet['id']}/pin", headers=mine)
    assert refused.status_code == 422 and "cannot be pinned" in refused.json()["error"]
    boost = client.post(f"/api/v1/statuses/{posts[1]['id']}/reblog", headers=token_for(ben)).json()
    assert client.post(f"/api/v1/statuses/{boost['id']}/pin", headers=token_for(ben)).status_code == 422
    # Unknown, and scopes
    assert client.post("/api/v1/statuses/123/pin", headers=mine).status_code == 404
    assert client.post(f"/api/v1/statuses/{posts[0]['id']}/pin").status_code == 401
    reader = token_for(ana, "read")
    assert client.post(f"/api/v1/statuses/{posts[0]['id']}/pin", headers=reader).status_code == 403
    # A deleted pinned post leaves the list
    client.delete(f"/api/v1/statuses/{posts[1]['id']}", headers=mine)
    assert posts[1]["id"] not in pinned_ids(client, ana) and len(pinned_ids(client, ana)) == MAX_PINS - 2


def test_the_profile_shows_pins_first_and_the_post_page_pins(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana = make_user("ana", password=PASSWORD)
    first, second = post(client, token_for(ana), "first light"), post(client, token_for(ana), "second light")
    sign_in(client, "ana")
    page = client.get(f"/@ana/{first['id']}", headers=BROWSER).text
    assert f'action="/posts/{first["id"]}/pin"' in page and "Pin to profile" in page
    pinned = client.post(
        f"/posts/{first['id']}/pin",
        data={"csrf_token": csrf_of(page), "next": f"/@ana/{first['id']}"},
        headers=BROWSER,
        follow_redirects=False,
    )
    assert pinned.status_code == 303 and pinned.headers["location"] == f"/@ana/{first['id']}"
    page = client.get(f"/@ana/{first['id']}", headers=BROWSER).text
    assert f'action="/posts/{first["id"]}/unpin"' in page and "Unpin from profile" in page
    profile = client.get("/@ana", headers=BROWSER).text
    pinned_section = profile[profile.index('id="pinned-title"') : profile.index('aria-label="Posts"')]
    assert f'id="pinned-{first["id"]}"' in pinned_section and f"pinned-{second['id']}" not in pinned_section
    assert profile.index(f'id="pinned-{first["id"]}"') < profile.index(f'id="tile-{second["id"]}"')
    unpinned = client.post(
        f"/posts/{first['id']}/unpin",
        data={"csrf_token": csrf_of(page), "next": "/@ana"},
        headers=BROWSER,
        follow_redirects=False,
    )
    assert unpinned.status_code == 303
    assert 'id="pinned-title"' not in client.get("/@ana", headers=BROWSER).text

"""Read markers: ``GET``/``POST /api/v1/markers`` for the home timeline and notifications, shared by an
account's apps, versioned as Mastodon versions them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from storage.models import Account

Headers = dict[str, str]
TokenFor = Callable[..., Headers]
PATH = "/api/v1/markers"
BOTH = "?timeline[]=home&timeline[]=notifications"


@pytest.fixture
def ana(make_user: Callable[..., Account]) -> Account:
    return make_user("ana")


@pytest.fixture
def headers(ana: Account, token_for: TokenFor) -> Headers:
    return token_for(ana, "read:statuses write:statuses")


def test_markers_are_saved_and_versioned(client: TestClient, headers: Headers) -> None:
    # Before anything is saved there are no markers
    assert client.get(f"{PATH}{BOTH}", headers=headers).json() == {}
    # When an app saves its place in the home timeline (as a form, Mastodon's documented way)
    saved = client.post(PATH, headers=headers, data={"home[last_read_id]": "103194548672408537"})
    assert saved.status_code == 200, saved.text
    home = saved.json()["home"]
    assert set(saved.json()) == {"home"}
    assert home["last_read_id"] == "103194548672408537" and home["version"] == 0
    assert home["updated_at"].endswith("Z")
    # Then saving the same place changes nothing; a new place is a new version
    assert client.post(PATH, headers=headers, data={"home[last_read_id]": "103194548672408537"}).json() == {
        "home": home
    }
    moved = client.post(PATH, headers=headers, json={"home": {"last_read_id": "103194548672408999"}})
    assert moved.json()["home"]["version"] == 1
    # And both timelines at once, as JSON (Mastodon.py, masto.js)
    both = client.post(
        PATH, headers=headers, json={"home": {"last_read_id": 5}, "notifications": {"last_read_id": "7"}}
    ).json()
    assert (both["home"]["last_read_id"], both["home"]["version"]) == ("5", 2)
    assert (both["notifications"]["last_read_id"], both["notifications"]["version"]) == ("7", 0)
    # And reading gives what was saved, only for the timelines asked for
    assert client.get(f"{PATH}{BOTH}", headers=headers).json() == both
    assert client.get(f"{PATH}?timeline[]=notifications", headers=headers).json() == {
        "notifications": both["notifications"]
    }
    assert client.get(f"{PATH}?timeline=home", headers=headers).json() == {"home": both["home"]}
    assert client.get(PATH, headers=headers).json() == {}
    assert client.get(f"{PATH}?timeline[]=lists", headers=headers).json() == {}


def test_each_account_has_its_own(
    client: TestClient, headers: Headers, make_user: Callable[..., Account], token_for: TokenFor
) -> None:
    client.post(PATH, headers=headers, data={"home[last_read_id]": "10"})
    ben = token_for(make_user("ben"), "read write")
    assert client.get(f"{PATH}{BOTH}", headers=ben).json() == {}
    client.post(PATH, headers=ben, data={"home[last_read_id]": "20"})
    assert client.get(f"{PATH}{BOTH}", headers=headers).json()["home"]["last_read_id"] == "10"


@pytest.mark.parametrize(
    "body",
    [
        {"home": {"last_read_id": "abc"}},
        {"home": {"last_read_id": "-5"}},
        {"home": {"last_read_id": "99999999999999999999"}},
        {"home": {"last_read_id": None}},
        {"home": "12"},
        {"notifications": {"last_read_id": 1.5}},
        {"notifications": {}},
    ],
)
def test_bad_markers_are_refused(client: TestClient, headers: Headers, body: dict[str, object]) -> None:
    response = client.post(PATH, headers=headers, json=body)
    assert response.status_code == 422 and "last_read_id] must be an id" in response.json()["error"]
    assert client.get(f"{PATH}{BOTH}", headers=headers).json() == {}


def test_unknown_timelines_and_empty_bodies_save_nothing(client: TestClient, headers: Headers) -> None:
    assert client.post(PATH, headers=headers, data={"lists[last_read_id]": "1"}).json() == {}
    assert client.post(PATH, headers=headers).json() == {}
    bad_json = client.post(PATH, headers={**headers, "Content-Type": "application/json"}, content=b"{nope")
    assert bad_json.status_code == 400


def test_scopes(client: TestClient, ana: Account, token_for: TokenFor) -> None:
    assert client.get(f"{PATH}{BOTH}").status_code == 401
    reader = token_for(ana, "read:statuses")
    assert client.get(f"{PATH}{BOTH}", headers=reader).status_code == 200
    refused = client.post(PATH, headers=reader, data={"home[last_read_id]": "1"})
    assert refused.status_code == 403 and "write:statuses" in refused.json()["error"]
    assert client.get(f"{PATH}{BOTH}", headers=token_for(ana, "read:notifications")).status_code == 403
    assert client.post(PATH, headers=token_for(ana, "write"), data={"home[last_read_id]": "1"}).status_code == 200

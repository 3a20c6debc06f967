"""Lists: creating, renaming and deleting them, their members (followed accounts only), the lists an account
is on, and a list's timeline — its replies policy, paging, and exclusive lists left out of home."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from fediverse.social import actions
from storage.models import Account
from tests.fediverse.client_api.posting import act, check_status, follow

Headers = Callable[..., dict[str, str]]


def _post(client: TestClient, headers: dict[str, str], text: str, **fields: Any) -> str:
    response = client.post("/api/v1/statuses", json={"status": text, **fields}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


def _make_list(client: TestClient, headers: dict[str, str], title: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/lists", json={"title": title, **fields}, headers=headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_lists_are_created_renamed_listed_and_deleted(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    headers = token_for(ana)
    made = _make_list(client, headers, "Painters")
    assert made == {"id": made["id"], "title": "Painters", "replies_policy": "list", "exclusive": False}
    # a form works as well as JSON
    other = client.post(
        "/api/v1/lists", data={"title": "Birds", "replies_policy": "followed", "exclusive": "true"}, headers=headers
    ).json()
    assert other["replies_policy"] == "followed" and other["exclusive"] is True
    assert [item["title"] for item in client.get("/api/v1/lists", headers=headers).json()] == ["Birds", "Painters"]
    changed = client.put(
        f"/api/v1/lists/{made['id']}", json={"title": "Ink", "replies_policy": "none"}, headers=headers
    )
    assert changed.json() == {"id": made["id"], "title": "Ink", "replies_policy": "none", "exclusive": False}
    assert client.get(f"/api/v1/lists/{made['id']}", headers=headers).json()["title"] == "Ink"
    # refusals: blank title, unknown policy (422); someone else's list (404); scopes
    assert client.post("/api/v1/lists", json={"title": " "}, headers=headers).status_code == 422
    assert client.post("/api/v1/lists", json={}, headers=headers).status_code == 422
    assert (
        client.post("/api/v1/lists", json={"title": "x", "replies_policy": "all"}, headers=headers).status_code == 422
    )
    assert client.get(f"/api/v1/lists/{made['id']}", headers=token_for(ben)).status_code == 404
    assert client.delete(f"/api/v1/lists/{made['id']}", headers=token_for(ben)).status_code == 404
    assert client.get("/api/v1/lists/abc", headers=headers).status_code == 404
    assert client.get("/api/v1/lists").status_code == 401
    assert client.post("/api/v1/lists", json={"title": "x"}, headers=token_for(ana, "read")).status_code == 403
    assert client.get("/api/v1/lists", headers=token_for(ana, "read:lists")).status_code == 200
    # deleting
    assert client.delete(f"/api/v1/lists/{made['id']}", headers=headers).json() == {}
    assert client.get(f"/api/v1/lists/{made['id']}", headers=headers).status_code == 404
    assert [item["title"] for item in client.get("/api/v1/lists", headers=headers).json()] == ["Birds"]


def test_members_must_be_followed(client: TestClient, make_user: Callable[..., Account], token_for: Headers) -> None:
    ana, ben, cara = make_user("ana"), make_user("ben"), make_user("cara")
    headers = token_for(ana)
    follow(client, "ana", "ben")
    made = _make_list(client, headers, "Friends")
    path = f"/api/v1/lists/{made['id']}/accounts"
    # cara is not followed: 422 and nothing added; an unknown account is 404
    refused = client.post(path, json={"account_ids": [str(ben.actor_id), str(cara.actor_id)]}, headers=headers)
    assert refused.status_code == 422 and "follow" in refused.json()["error"]
    assert client.post(path, json={"account_ids": ["999999999"]}, headers=headers).status_code == 404
    assert client.get(path, headers=headers).json() == []
    assert client.post(path, data={"account_ids[]": [str(ben.actor_id)]}, headers=headers).json() == {}
    members = client.get(path, headers=headers)
    assert [item["acct"] for item in members.json()] == ["ben"]
    assert [item["acct"] for item in client.get(path, params={"limit": 0}, headers=headers).json()] == ["ben"]
    # the lists an account is on
    lists_of_ben = client.get(f"/api/v1/accounts/{ben.actor_id}/lists", headers=headers).json()
    assert [item["id"] for item in lists_of_ben] == [made["id"]]
    assert client.get(f"/api/v1/accounts/{cara.actor_id}/lists", headers=headers).json() == []
    # another account sees nothing of ana's lists
    assert client.get(f"/api/v1/accounts/{ben.actor_id}/lists", headers=token_for(cara)).json() == []
    assert client.get(path, headers=token_for(cara)).status_code == 404
    # unfollowing drops ben from the list
    act(client, actions.unfollow, "ana", "ben")
    assert client.get(path, headers=headers).json() == []
    follow(client, "ana", "ben")
    # removing
    assert client.request("DELETE", path, json={"account_ids": [str(ben.actor_id)]}, headers=headers).json() == {}
    assert client.get(path, headers=headers).json() == []


def test_list_timeline_follows_replies_policy_and_exclusive(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben, cara, dan = make_user("ana"), make_user("ben"), make_user("cara"), make_user("dan")
    headers = token_for(ana)
    for name in ("ben", "cara"):
        follow(client, "ana", name)
    made = _make_list(client, headers, "Ben")
    path = f"/api/v1/lists/{made['id']}"
    client.post(f"{path}/accounts", json={"account_ids": [str(ben.actor_id)]}, headers=headers)
    by_cara = _post(client, token_for(cara), "cara speaks")
    by_dan = _post(client, token_for(dan), "dan speaks")
    own = _post(client, token_for(ben), "ben alone")
    self_reply = _post(client, token_for(ben), "ben again", in_reply_to_id=own)
    to_cara = _post(client, token_for(ben), "ben to cara", in_reply_to_id=by_cara)
    to_dan = _post(client, token_for(ben), "ben to dan", in_reply_to_id=by_dan)
    boost = client.post(f"/api/v1/statuses/{by_dan}/reblog", headers=token_for(ben)).json()["id"]
    timeline = f"/api/v1/timelines/list/{made['id']}"
    # "list": replies to members (and to oneself) only
    response = client.get(timeline, headers=headers)
    assert _ids(response) == [boost, self_reply, own]
    for status in response.json():
        check_status(status)
    client.put(path, json={"replies_policy": "followed"}, headers=headers)
    assert _ids(client.get(timeline, headers=headers)) == [boost, to_cara, self_reply, own]
    client.put(path, json={"replies_policy": "none"}, headers=headers)
    assert _ids(client.get(timeline, headers=headers)) == [boost, self_reply, own]
    assert to_dan not in _ids(client.get(timeline, headers=headers))
    # paging, as the home timeline pages
    first = client.get(timeline, params={"limit": 1}, headers=headers)
    assert _ids(first) == [boost] and "max_id=" in first.headers["link"]
    assert _ids(client.get(timeline, params={"limit": 1, "max_id": boost}, headers=headers)) == [self_reply]
    assert _ids(client.get(timeline, params={"min_id": self_reply}, headers=headers)) == [boost]
    # others cannot read it
    assert client.get(timeline, headers=token_for(cara)).status_code == 404
    assert client.get(timeline).status_code == 401
    # home shows ben's posts until the list is exclusive
    home = _ids(client.get("/api/v1/timelines/home", headers=headers))
    assert own in home and boost in home and by_cara in home
    client.put(path, json={"exclusive": True}, headers=headers)
    home = _ids(client.get("/api/v1/timelines/home", headers=headers))
    assert own not in home and boost not in home and by_cara in home
    assert own in _ids(client.get(timeline, headers=headers))


def test_lists_of_an_account_need_a_user(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana = make_user("ana")
    assert client.get(f"/api/v1/accounts/{ana.actor_id}/lists").status_code == 401
    assert client.get(f"/api/v1/accounts/{ana.actor_id}/lists", headers=token_for(ana)).json() == []
    assert client.get("/api/v1/accounts/31337/lists", headers=token_for(ana)).status_code == 404

"""Favourite, reblog and bookmark a status (and undo them), and who favourited or reblogged it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from storage.models import Account
from tests.fediverse.client_api.posting import check_status, follow

Headers = Callable[..., dict[str, str]]


def _post(client: TestClient, headers: dict[str, str], text: str = "hello", **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/statuses", json={"status": text, **fields}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_favouriting_shows_in_the_status_and_in_who_favourited_it(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben, cara = make_user("ana"), make_user("ben"), make_user("cara")
    posted = _post(client, token_for(ana))
    for name, person in (("ben", ben), ("cara", cara)):
        response = client.post(f"/api/v1/statuses/{posted['id']}/favourite", headers=token_for(person))
        assert response.status_code == 200, name
        check_status(response.json())
        assert response.json()["favourited"] is True
    # Twice is once
    again = client.post(f"/api/v1/statuses/{posted['id']}/favourite", headers=token_for(ben)).json()
    assert again["favourites_count"] == 2
    assert client.get(f"/api/v1/statuses/{posted['id']}", headers=token_for(ana)).json()["favourited"] is False
    people = client.get(f"/api/v1/statuses/{posted['id']}/favourited_by")
    assert people.status_code == 200
    assert [account["acct"] for account in people.json()] == ["cara", "ben"]
    # Paged by the favourites' own ids, newest first
    first = client.get(f"/api/v1/statuses/{posted['id']}/favourited_by", params={"limit": 1})
    assert [account["acct"] for account in first.json()] == ["cara"]
    next_url = first.headers["link"].split(";")[0].strip("<>")
    rest = client.get(next_url)
    assert [account["acct"] for account in rest.json()] == ["ben"]
    # Undone
    undone = client.post(f"/api/v1/statuses/{posted['id']}/unfavourite", headers=token_for(ben)).json()
    assert (undone["favourited"], undone["favourites_count"]) == (False, 1)
    assert client.post(f"/api/v1/statuses/{posted['id']}/unfavourite", headers=token_for(ben)).status_code == 200
    assert [a["acct"] for a in client.get(f"/api/v1/statuses/{posted['id']}/favourited_by").json()] == ["cara"]


def test_reblogging_answers_the_boost_wrapping_the_status(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    posted = _post(client, token_for(ana), "worth sharing")
    response = client.post(f"/api/v1/statuses/{posted['id']}/reblog", headers=token_for(ben))
    assert response.status_code == 200
    wrapper = response.json()
    check_status(wrapper)
    assert wrapper["id"] != posted["id"]
    assert wrapper["account"]["acct"] == "ben"
    assert wrapper["reblog"]["id"] == posted["id"]
    assert wrapper["reblog"]["reblogged"] is True and wrapper["reblog"]["reblogs_count"] == 1
    # The boost's id names it too; acting on it acts on the post
    shown = client.get(f"/api/v1/statuses/{wrapper['id']}", headers=token_for(ana)).json()
    assert shown["reblog"]["id"] == posted["id"]
    favourited = client.post(f"/api/v1/statuses/{wrapper['id']}/favourite", headers=token_for(ana)).json()
    assert favourited["id"] == posted["id"] and favourited["favourited"] is True
    assert [a["acct"] for a in client.get(f"/api/v1/statuses/{posted['id']}/reblogged_by").json()] == ["ben"]
    # Undone: the post itself comes back
    undone = client.post(f"/api/v1/statuses/{posted['id']}/unreblog", headers=token_for(ben)).json()
    assert (undone["id"], undone["reblogged"], undone["reblogs_count"]) == (posted["id"], False, 0)
    assert client.get(f"/api/v1/statuses/{wrapper['id']}", headers=token_for(ben)).status_code == 404
    # Deleting one's own boost by its id undoes it too
    again = client.post(f"/api/v1/statuses/{posted['id']}/reblog", headers=token_for(ben)).json()
    assert client.delete(f"/api/v1/statuses/{again['id']}", headers=token_for(ana)).status_code == 404
    assert client.delete(f"/api/v1/statuses/{again['id']}", headers=token_for(ben)).status_code == 200
    assert client.get(f"/api/v1/statuses/{posted['id']}", headers=token_for(ben)).json()["reblogged"] is False


def test_private_and_hidden_statuses_are_not_acted_on(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben, cara = make_user("ana"), make_user("ben"), make_user("cara")
    follow(client, "ben", "ana")
    private = _post(client, token_for(ana), "friends only", visibility="private")
    # a follower may favourite it but not boost it
    assert client.post(f"/api/v1/statuses/{private['id']}/favourite", headers=token_for(ben)).status_code == 200
    refused = client.post(f"/api/v1/statuses/{private['id']}/reblog", headers=token_for(ben))
    assert refused.status_code == 403
    assert "error" in refused.json()
    # a stranger cannot see it at all
    for verb in ("favourite", "reblog", "bookmark", "unfavourite", "unbookmark"):
        response = client.post(f"/api/v1/statuses/{private['id']}/{verb}", headers=token_for(cara))
        assert response.status_code == 404, verb
    assert client.post("/api/v1/statuses/123/favourite", headers=token_for(cara)).status_code == 404
    # scopes
    assert client.post(f"/api/v1/statuses/{private['id']}/favourite").status_code == 401
    wrong = client.post(f"/api/v1/statuses/{private['id']}/bookmark", headers=token_for(ben, "write:favourites"))
    assert wrong.status_code == 403


def test_bookmarks_are_private_and_listed(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    first, second = _post(client, token_for(ana), "one"), _post(client, token_for(ana), "two")
    for posted in (second, first):  # bookmarked in the other order than posted
        marked = client.post(f"/api/v1/statuses/{posted['id']}/bookmark", headers=token_for(ben))
        assert marked.status_code == 200 and marked.json()["bookmarked"] is True
    assert client.post(f"/api/v1/statuses/{first['id']}/bookmark", headers=token_for(ben)).status_code == 200
    # only ben sees his bookmarks
    assert client.get(f"/api/v1/statuses/{first['id']}", headers=token_for(ana)).json()["bookmarked"] is False
    assert client.get("/api/v1/bookmarks", headers=token_for(ana)).json() == []
    listed = client.get("/api/v1/bookmarks", headers=token_for(ben))
    assert [item["id"] for item in listed.json()] == [first["id"], second["id"]]  # newest bookmark first
    assert all(item["bookmarked"] for item in listed.json())
    unmarked = client.post(f"/api/v1/statuses/{first['id']}/unbookmark", headers=token_for(ben)).json()
    assert unmarked["bookmarked"] is False
    assert [item["id"] for item in client.get("/api/v1/bookmarks", headers=token_for(ben)).json()] == [second["id"]]
    # a deleted post leaves the list
    client.delete(f"/api/v1/statuses/{second['id']}", headers=token_for(ana))
    assert client.get("/api/v1/bookmarks", headers=token_for(ben)).json() == []

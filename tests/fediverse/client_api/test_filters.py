"""Custom filters: v2 filters with keywords and chosen statuses, v1 filters over the same rows, and the
``filtered`` results statuses carry (whole-word and case-insensitive matching as Mastodon's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from fediverse.reads.filters import keyword_pattern
from storage.models import Account
from tests.fediverse.client_api.posting import follow

Headers = Callable[..., dict[str, str]]


def _post(client: TestClient, headers: dict[str, str], text: str, **fields: Any) -> str:
    response = client.post("/api/v1/statuses", json={"status": text, **fields}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _filter(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v2/filters", json=fields, headers=headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


@pytest.mark.parametrize(
    ("keyword", "whole_word", "text", "found"),
    [
        ("cat", True, "A Cat sat", "Cat"),
        ("cat", True, "concatenate", None),
        ("cat", False, "concatenate", "cat"),
        ("#art", True, "new #art today", "#art"),
        ("#art", True, "new #artwork today", None),
        ("c++", True, "I like c++!", "c++"),
        ("über", True, "Über alles", "Über"),
        ("spoiler alert", True, "SPOILER ALERT: x", "SPOILER ALERT"),
    ],
)
def test_keywords_match_as_mastodon_matches_them(keyword: str, whole_word: bool, text: str, found: str | None) -> None:
    import re

    hit = re.search(keyword_pattern(keyword, whole_word), text, re.IGNORECASE)
    assert (hit.group(0) if hit else None) == found


def test_v2_filters_are_created_changed_and_deleted(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    headers = token_for(ana)
    made = _filter(
        client,
        headers,
        title="Spoilers",
        context=["home", "public"],
        filter_action="hide",
        expires_in=3600,
        keywords_attributes=[{"keyword": "finale", "whole_word": True}, {"keyword": "ending", "whole_word": False}],
    )
    assert made["title"] == "Spoilers" and made["context"] == ["home", "public"] and made["filter_action"] == "hide"
    assert made["expires_at"] is not None and made["statuses"] == []
    assert [(item["keyword"], item["whole_word"]) for item in made["keywords"]] == [
        ("finale", True),
        ("ending", False),
    ]
    # a form with Rails' bracket names works too
    form = client.post(
        "/api/v2/filters",
        data={
            "title": "Birds",
            "context[]": ["thread"],
            "keywords_attributes[][keyword]": "crow",
        },
        headers=headers,
    )
    assert form.status_code == 200, form.text
    assert form.json()["filter_action"] == "warn" and form.json()["keywords"][0]["whole_word"] is True
    assert [item["title"] for item in client.get("/api/v2/filters", headers=headers).json()] == ["Spoilers", "Birds"]
    # update: rename, drop one keyword, change another, add one, never expire
    first, second = made["keywords"]
    changed = client.put(
        f"/api/v2/filters/{made['id']}",
        json={
            "title": "Plot",
            "expires_in": "",
            "keywords_attributes": [
                {"id": first["id"], "_destroy": True},
                {"id": second["id"], "keyword": "the end"},
                {"keyword": "twist"},
            ],
        },
        headers=headers,
    ).json()
    assert changed["title"] == "Plot" and changed["expires_at"] is None and changed["filter_action"] == "hide"
    assert [item["keyword"] for item in changed["keywords"]] == ["the end", "twist"]
    # keywords one by one
    keywords = f"/api/v2/filters/{made['id']}/keywords"
    added = client.post(keywords, json={"keyword": "reveal", "whole_word": False}, headers=headers).json()
    assert added["keyword"] == "reveal" and added["whole_word"] is False
    assert [item["keyword"] for item in client.get(keywords, headers=headers).json()] == ["the end", "twist", "reveal"]
    one = f"/api/v2/filter_keywords/{added['id']}"
    assert client.put(one, json={"keyword": "reveals"}, headers=headers).json()["keyword"] == "reveals"
    assert client.get(one, headers=headers).json()["keyword"] == "reveals"
    assert client.get(one, headers=token_for(ben)).status_code == 404
    assert client.delete(one, headers=headers).json() == {}
    assert client.get(one, headers=headers).status_code == 404
    # refusals
    assert (
        client.post("/api/v2/filters", json={"title": "x", "context": ["nowhere"]}, headers=headers).status_code == 422
    )
    assert client.post("/api/v2/filters", json={"title": "x", "context": []}, headers=headers).status_code == 422
    assert (
        client.post(
            "/api/v2/filters", json={"title": "x", "context": ["home"], "filter_action": "burn"}, headers=headers
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v2/filters", json={"title": "x", "context": ["home"], "expires_in": "soon"}, headers=headers
        ).status_code
        == 422
    )
    assert client.post(keywords, json={"keyword": ""}, headers=headers).status_code == 422
    assert client.get(f"/api/v2/filters/{made['id']}", headers=token_for(ben)).status_code == 404
    assert client.get("/api/v2/filters").status_code == 401
    assert client.get("/api/v2/filters", headers=token_for(ana, "read:lists")).status_code == 403
    assert client.post("/api/v2/filters", json={"title": "x"}, headers=token_for(ana, "read")).status_code == 403
    # delete
    assert client.delete(f"/api/v2/filters/{made['id']}", headers=headers).json() == {}
    assert client.get(f"/api/v2/filters/{made['id']}", headers=headers).status_code == 404


def test_statuses_carry_filter_results(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    headers = token_for(ana)
    follow(client, "ana", "ben")
    matching = _post(client, token_for(ben), "The Finale was great", spoiler_text="tv")
    in_warning = _post(client, token_for(ben), "no words here", spoiler_text="finale talk")
    plain = _post(client, token_for(ben), "finalement, rien")
    chosen = _post(client, token_for(ben), "a quiet one")
    own = _post(client, headers, "my own finale")
    made = _filter(client, headers, title="Spoilers", context=["home"], keywords_attributes=[{"keyword": "finale"}])
    added = client.post(f"/api/v2/filters/{made['id']}/statuses", json={"status_id": chosen}, headers=headers)
    assert added.status_code == 200 and added.json()["status_id"] == chosen
    assert (
        client.post(f"/api/v2/filters/{made['id']}/statuses", json={"status_id": chosen}, headers=headers).status_code
        == 422
    )
    home = {item["id"]: item for item in client.get("/api/v1/timelines/home", headers=headers).json()}
    result = home[matching]["filtered"]
    assert result == [
        {
            "filter": {
                "id": made["id"],
                "title": "Spoilers",
                "context": ["home"],
                "expires_at": None,
                "filter_action": "warn",
            },
            "keyword_matches": ["Finale"],
            "status_matches": None,
        }
    ]
    assert home[in_warning]["filtered"][0]["keyword_matches"] == ["finale"]
    assert home[plain]["filtered"] == [] and home[own]["filtered"] == []
    assert (
        home[chosen]["filtered"][0]["status_matches"] == [chosen]
        and home[chosen]["filtered"][0]["keyword_matches"] is None
    )
    # a boost of a filtered post carries the result outside and in
    boost = client.post(f"/api/v1/statuses/{matching}/reblog", headers=token_for(ben)).json()["id"]
    wrapper = client.get(f"/api/v1/statuses/{boost}", headers=headers).json()
    assert wrapper["filtered"] and wrapper["reblog"]["filtered"]
    # a hide filter: the status is still answered, marked, as Mastodon answers it (the client hides it)
    client.put(f"/api/v2/filters/{made['id']}", json={"filter_action": "hide"}, headers=headers)
    again = client.get(f"/api/v1/statuses/{matching}", headers=headers).json()
    assert again["filtered"][0]["filter"]["filter_action"] == "hide"
    # ben sees nothing of ana's filters; an expired filter matches nothing
    assert client.get(f"/api/v1/statuses/{matching}", headers=token_for(ben)).json()["filtered"] == []
    assert client.get(f"/api/v2/filters/{made['id']}/statuses", headers=headers).json()[0]["status_id"] == chosen
    chosen_row = added.json()["id"]
    assert client.get(f"/api/v2/filter_statuses/{chosen_row}", headers=headers).json()["status_id"] == chosen
    assert client.delete(f"/api/v2/filter_statuses/{chosen_row}", headers=headers).json() == {}
    assert client.get(f"/api/v2/filters/{made['id']}/statuses", headers=headers).json() == []


def test_v1_filters_are_keywords(client: TestClient, make_user: Callable[..., Account], token_for: Headers) -> None:
    ana = make_user("ana")
    headers = token_for(ana)
    made = client.post(
        "/api/v1/filters",
        data={"phrase": "snow", "context[]": ["home", "notifications"], "irreversible": "true", "whole_word": "false"},
        headers=headers,
    )
    assert made.status_code == 200, made.text
    v1 = made.json()
    assert v1 == {
        "id": v1["id"],
        "phrase": "snow",
        "context": ["home", "notifications"],
        "whole_word": False,
        "expires_at": None,
        "irreversible": True,
    }
    # the same filter through v2: titled by its phrase, hiding
    (v2,) = client.get("/api/v2/filters", headers=headers).json()
    assert v2["title"] == "snow" and v2["filter_action"] == "hide" and v2["keywords"][0]["id"] == v1["id"]
    changed = client.put(
        f"/api/v1/filters/{v1['id']}", json={"phrase": "sleet", "irreversible": False}, headers=headers
    )
    assert changed.json()["phrase"] == "sleet" and changed.json()["irreversible"] is False
    assert client.get(f"/api/v1/filters/{v1['id']}", headers=headers).json()["phrase"] == "sleet"
    # a v2 filter of two keywords shows as two v1 filters, and its settings cannot change through v1
    two = _filter(
        client, headers, title="Two", context=["public"], keywords_attributes=[{"keyword": "a"}, {"keyword": "b"}]
    )
    listed = client.get("/api/v1/filters", headers=headers).json()
    assert [item["phrase"] for item in listed] == ["sleet", "a", "b"]
    first_id = two["keywords"][0]["id"]
    assert client.put(f"/api/v1/filters/{first_id}", json={"context": ["home"]}, headers=headers).status_code == 422
    # deleting the last keyword of a filter deletes the filter
    assert client.delete(f"/api/v1/filters/{v1['id']}", headers=headers).json() == {}
    assert [item["title"] for item in client.get("/api/v2/filters", headers=headers).json()] == ["Two"]
    assert client.get(f"/api/v1/filters/{v1['id']}", headers=headers).status_code == 404

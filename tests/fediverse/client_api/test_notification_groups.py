"""Grouped notifications (Mastodon 4.3's ``/api/v2/notifications``), the notification policy and requests:
Mastodon's grouping (favourites and boosts per status and day, follows per day, mentions never), its
page of groups and ``Link`` header, one group, its accounts, dismissing it, the unread count of groups —
with the v1 list's reading rule — and Mastodon.py's grouped-notification calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from mastodon import Mastodon
from starlette.testclient import TestClient

from fediverse.social import actions
from storage.models import Account, Post
from tests.conftest import TEST_BASE_URL
from tests.fediverse.client_api.library_session import app_session
from tests.fediverse.client_api.test_notifications import ANA, act, post_as

Headers = dict[str, str]
PATH = "/api/v2/notifications"
GROUP_FIELDS = {"group_key", "notifications_count", "type", "most_recent_notification_id", "sample_account_ids"}
PAGE_FIELDS = {"page_min_id", "page_max_id", "latest_page_notification_at"}


@pytest.fixture
def people(make_user: Callable[..., Account]) -> dict[str, Account]:
    return {name: make_user(name) for name in ("ana", "ben", "cal")}


@pytest.fixture
def headers(people: dict[str, Account], token_for: Callable[..., Headers]) -> Headers:
    return token_for(people["ana"], "read:notifications write:notifications")


@pytest.fixture
def busy(client: TestClient, people: dict[str, Account]) -> Post:
    """Oldest first: ben follows ana, likes and boosts her post, replies; cal remixes it and likes it."""
    post = post_as(client, "ana", "anas lighthouse")
    act(client, actions.follow, "ben", ANA)
    act(client, actions.like, "ben", post.ap_id)
    act(client, actions.boost, "ben", post.ap_id)
    post_as(client, "ben", "what a light", in_reply_to=post)
    post_as(client, "cal", "my take on it", remix_of_ap_id=post.ap_id)
    act(client, actions.like, "cal", post.ap_id)
    return post


def grouped(client: TestClient, headers: Headers, query: str = "") -> dict[str, Any]:
    response = client.get(f"{PATH}{query}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def v1(client: TestClient, headers: Headers, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/notifications{query}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def summary(results: dict[str, Any]) -> list[tuple[str, int]]:
    return [(group["type"], group["notifications_count"]) for group in results["notification_groups"]]


def test_groups_are_mastodons(client: TestClient, people: dict[str, Account], headers: Headers, busy: Post) -> None:
    results = grouped(client, headers)
    assert list(results) == ["accounts", "statuses", "notification_groups"]
    assert summary(results) == [("favourite", 2), ("status", 1), ("mention", 1), ("reblog", 1), ("follow", 1)]
    singles = {item["id"]: item for item in v1(client, headers)}
    favourite, remix, reply, boost, follow = results["notification_groups"]
    for group in results["notification_groups"]:
        assert set(group) >= GROUP_FIELDS | PAGE_FIELDS
        newest = singles[str(group["most_recent_notification_id"])]
        assert newest["group_key"] == group["group_key"] and group["page_max_id"] == newest["id"]
        assert group["latest_page_notification_at"] == newest["created_at"]
    ben, cal = str(people["ben"].actor_id), str(people["cal"].actor_id)
    assert favourite["sample_account_ids"] == [cal, ben] and favourite["status_id"] == str(busy.id)
    assert int(favourite["page_min_id"]) < int(favourite["page_max_id"])
    assert favourite["group_key"].startswith(f"favourite-{busy.id}-")
    assert reply["group_key"] == f"ungrouped-{reply['most_recent_notification_id']}"
    assert boost["status_id"] == str(busy.id) and "status_id" not in follow and follow["sample_account_ids"] == [ben]
    assert remix["sample_account_ids"] == [cal]
    # Each account and status once, in full
    assert sorted(account["id"] for account in results["accounts"]) == sorted([ben, cal])
    assert all("followers_count" in account for account in results["accounts"])
    status_ids = [status["id"] for status in results["statuses"]]
    assert len(status_ids) == len(set(status_ids)) == 3 and str(busy.id) in status_ids
    assert {reply["status_id"], remix["status_id"]} <= set(status_ids)


def test_grouped_types_and_filters(
    client: TestClient, headers: Headers, people: dict[str, Account], busy: Post
) -> None:
    only_follows = grouped(client, headers, "?grouped_types[]=follow")
    ungrouped_likes = [("favourite", 1), ("status", 1), ("mention", 1), ("reblog", 1), ("favourite", 1)]
    assert summary(only_follows) == [*ungrouped_likes, ("follow", 1)]
    assert all(g["group_key"].startswith("ungrouped-") for g in only_follows["notification_groups"][:2])
    assert summary(grouped(client, headers, "?types[]=favourite&types[]=follow")) == [("favourite", 2), ("follow", 1)]
    assert summary(grouped(client, headers, "?exclude_types[]=favourite")) == [
        ("status", 1),
        ("mention", 1),
        ("reblog", 1),
        ("follow", 1),
    ]
    assert summary(grouped(client, headers, f"?account_id={people['cal'].actor_id}")) == [
        ("favourite", 1),
        ("status", 1),
    ]


def test_pages_of_groups_follow_the_link_header(client: TestClient, headers: Headers, busy: Post) -> None:
    seen: list[list[tuple[str, int]]] = []
    keys: list[str] = []
    query = "?limit=2"
    while True:
        response = client.get(f"{PATH}{query}", headers=headers)
        results = response.json()
        if not results["notification_groups"]:
            break
        seen.append(summary(results))
        keys += [group["group_key"] for group in results["notification_groups"]]
        next_url = response.headers["link"].split(";")[0].strip("<>")
        assert next_url.startswith(f"{TEST_BASE_URL}{PATH}?") and "limit=2" in next_url
        query = "?" + urlsplit(next_url).query
    # Walking back, notifications of a group already shown come again as the same group, counted per page
    assert seen == [
        [("favourite", 1), ("status", 1)],
        [("mention", 1), ("reblog", 1)],
        [("favourite", 1), ("follow", 1)],
    ]
    assert keys[0] == keys[4]
    # min_id: the groups just after it, newest first
    newest_first = grouped(client, headers)["notification_groups"]
    follow_id = newest_first[-1]["most_recent_notification_id"]
    after = grouped(client, headers, f"?min_id={follow_id}&limit=2")
    assert summary(after) == [("reblog", 1), ("favourite", 1)]
    prev = client.get(f"{PATH}?limit=2", headers=headers).headers["link"].split(", ")[1]
    assert parse_qs(urlsplit(prev.split(";")[0].strip("<>")).query)["min_id"] == [
        str(newest_first[0]["most_recent_notification_id"])
    ]


def test_one_group_its_accounts_and_dismissing_it(
    client: TestClient, people: dict[str, Account], headers: Headers, busy: Post
) -> None:
    key = grouped(client, headers)["notification_groups"][0]["group_key"]
    one = client.get(f"{PATH}/{key}", headers=headers).json()
    (group,) = one["notification_groups"]
    assert group["notifications_count"] == 2 and not PAGE_FIELDS & set(group)
    assert [status["id"] for status in one["statuses"]] == [str(busy.id)]
    accounts = client.get(f"{PATH}/{key}/accounts", headers=headers).json()
    assert [account["username"] for account in accounts] == ["cal", "ben"]
    reply_key = grouped(client, headers)["notification_groups"][2]["group_key"]
    assert client.get(f"{PATH}/{reply_key}", headers=headers).json()["notification_groups"][0]["type"] == "mention"
    too_big = "9" * 19
    for missing in ("favourite-1-1", "ungrouped-999999", "nonsense", "follow-x", f"ungrouped-{too_big}"):
        assert client.get(f"{PATH}/{missing}", headers=headers).status_code == 404
    # Ids past 2**63 and days past the calendar name no group (never a database error)
    for out_of_range in (f"favourite-{too_big}-20000", "follow-9999999", f"ungrouped-{too_big}"):
        assert client.get(f"{PATH}/{out_of_range}", headers=headers).status_code == 404
        assert client.get(f"{PATH}/{out_of_range}/accounts", headers=headers).status_code == 404
        assert client.post(f"{PATH}/{out_of_range}/dismiss", headers=headers).json() == {}
    assert client.get(f"{PATH}/reblog-1-0/accounts", headers=headers).json() == []
    assert client.post(f"{PATH}/{key}/dismiss", headers=headers).json() == {}
    assert [item["type"] for item in v1(client, headers)] == ["status", "mention", "reblog", "follow"]
    assert client.get(f"{PATH}/{key}", headers=headers).status_code == 404
    assert client.post(f"{PATH}/nonsense/dismiss", headers=headers).json() == {}


def test_the_reading_rule_is_v1s(client: TestClient, people: dict[str, Account], headers: Headers, busy: Post) -> None:
    act(client, actions.block, "ana", f"{TEST_BASE_URL}/users/cal")
    results = grouped(client, headers)
    assert summary(results) == [("mention", 1), ("reblog", 1), ("favourite", 1), ("follow", 1)]
    assert str(people["cal"].actor_id) not in {account["id"] for account in results["accounts"]}
    key = results["notification_groups"][2]["group_key"]
    assert client.get(f"{PATH}/{key}/accounts", headers=headers).json()[0]["username"] == "ben"
    assert client.get(f"{PATH}/unread_count", headers=headers).json() == {"count": 4}


def test_unread_count_of_groups(
    client: TestClient, people: dict[str, Account], token_for: Callable[..., Headers], headers: Headers, busy: Post
) -> None:
    assert client.get(f"{PATH}/unread_count", headers=headers).json() == {"count": 5}
    assert client.get(f"{PATH}/unread_count?grouped_types[]=reblog", headers=headers).json() == {"count": 6}
    assert client.get(f"{PATH}/unread_count?limit=2", headers=headers).json() == {"count": 2}
    newest = v1(client, headers)[0]["id"]
    marked = client.post(
        "/api/v1/markers", json={"notifications": {"last_read_id": newest}}, headers=token_for(people["ana"], "write")
    )
    assert marked.status_code == 200, marked.text
    assert client.get(f"{PATH}/unread_count", headers=headers).json() == {"count": 0}


def test_partial_accounts(client: TestClient, people: dict[str, Account], headers: Headers, busy: Post) -> None:
    results = grouped(client, headers, "?types[]=favourite&expand_accounts=partial_avatars")
    assert [account["username"] for account in results["accounts"]] == ["cal"]
    (ben,) = results["partial_accounts"]
    assert set(ben) == {"id", "acct", "locked", "bot", "url", "avatar", "avatar_static"} and ben["acct"] == "ben"
    assert client.get(f"{PATH}?expand_accounts=all", headers=headers).status_code == 400


def test_policy_and_requests(client: TestClient, headers: Headers) -> None:
    policy = client.get(f"{PATH}/policy", headers=headers).json()
    assert policy == {
        "for_not_following": "accept",
        "for_not_followers": "accept",
        "for_new_accounts": "accept",
        "for_private_mentions": "accept",
        "for_limited_accounts": "accept",
        "summary": {"pending_requests_count": 0, "pending_notifications_count": 0},
    }
    assert client.patch(f"{PATH}/policy", json={"for_new_accounts": "accept"}, headers=headers).json() == policy
    refused = client.patch(f"{PATH}/policy", json={"for_new_accounts": "filter"}, headers=headers)
    assert refused.status_code == 422 and "not supported" in refused.json()["error"]
    assert client.patch(f"{PATH}/policy", json={"for_new_accounts": "maybe"}, headers=headers).status_code == 422
    v1_policy = client.get("/api/v1/notifications/policy", headers=headers).json()
    assert v1_policy["filter_not_following"] is False and v1_policy["summary"]["pending_requests_count"] == 0
    assert client.get("/api/v1/notifications/requests", headers=headers).json() == []
    assert client.get("/api/v1/notifications/requests/merged", headers=headers).json() == {"merged": True}
    assert client.get("/api/v1/notifications/requests/5", headers=headers).status_code == 404
    assert client.post("/api/v1/notifications/requests/5/accept", headers=headers).status_code == 404
    assert client.post("/api/v1/notifications/requests/dismiss", data={"id[]": "5"}, headers=headers).json() == {}


def test_scopes(client: TestClient, people: dict[str, Account], token_for: Callable[..., Headers]) -> None:
    assert client.get(PATH).status_code == 401
    assert client.get(f"{PATH}/policy").status_code == 401
    reader = token_for(people["ana"], "read:notifications")
    assert client.get(PATH, headers=reader).status_code == 200
    assert client.post(f"{PATH}/follow-1/dismiss", headers=reader).status_code == 403
    assert client.patch(f"{PATH}/policy", json={}, headers=reader).status_code == 403
    assert client.get(PATH, headers=token_for(people["ana"], "read:statuses")).status_code == 403


def test_mastodon_py_reads_grouped_notifications(
    client: TestClient, people: dict[str, Account], token_for: Callable[..., Headers], busy: Post
) -> None:
    token = token_for(people["ana"], "read write")["Authorization"].removeprefix("Bearer ")
    api = Mastodon(
        access_token=token, api_base_url=TEST_BASE_URL, session=app_session(client), mastodon_version="4.3.0"
    )
    first = api.grouped_notifications(limit=3)
    assert [group.type for group in first.notification_groups] == ["favourite", "status", "mention"]
    assert first.notification_groups[0].notifications_count == 1  # ben's like is older than the page
    assert {account.acct for account in first.accounts} == {"ben", "cal"} and first.partial_accounts is not None
    rest = api.fetch_next(first)
    assert rest is not None and [group.type for group in rest.notification_groups] == ["reblog", "favourite", "follow"]
    key = first.notification_groups[0].group_key
    assert api.grouped_notification(key).notification_groups[0].notifications_count == 2
    assert [account.acct for account in api.grouped_notification_accounts(key)] == ["cal", "ben"]
    assert api.unread_grouped_notifications_count() == 5
    assert api.notifications_policy().for_not_following == "accept"
    assert api.notification_requests() == []
    api.dismiss_grouped_notification(key)
    assert api.unread_grouped_notifications_count() == 4

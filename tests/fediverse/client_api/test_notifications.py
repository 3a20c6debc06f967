"""Notifications through the client API: Mastodon's types and entity, the filters and paging, one, dismiss,
clear, the unread count — and the reading rule of our pages (audit finding M1): a notification about a
post shows only while the reader may see that post, and never from someone they block."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from fediverse.social import actions
from fediverse.social.posts import PostDraft
from storage.models import Account, Notification, NotificationType, Post, Visibility
from tests.conftest import TEST_BASE_URL, run_in_app, services_of

Headers = dict[str, str]
TokenFor = Callable[..., Headers]
PATH = "/api/v1/notifications"
ANA = f"{TEST_BASE_URL}/users/ana"
BEN = f"{TEST_BASE_URL}/users/ben"


def act(client: TestClient, action: Callable[..., Any], *args: Any) -> Any:
    return run_in_app(client, action, services_of(client), *args)


def post_as(client: TestClient, username: str, caption: str, **draft: Any) -> Post:
    return act(client, actions.publish, username, PostDraft(caption=caption, **draft))  # type: ignore[no-any-return]


def store_notification(client: TestClient, account: Account, kind: NotificationType, about: Post) -> None:
    """A row as an earlier version wrote it, before notify() checked who may see the post."""

    async def run() -> None:
        async with services_of(client).db.transaction() as session:
            session.add(Notification(account_id=account.id or 0, type=kind, actor_id=about.author_id, post_id=about.id))

    run_in_app(client, run)


def listed(client: TestClient, headers: Headers, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"{PATH}{query}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def types_of(notifications: list[dict[str, Any]]) -> list[str]:
    return [item["type"] for item in notifications]


@pytest.fixture
def people(make_user: Callable[..., Account]) -> dict[str, Account]:
    return {name: make_user(name) for name in ("ana", "ben", "cal")}


@pytest.fixture
def headers(people: dict[str, Account], token_for: TokenFor) -> Headers:
    return token_for(people["ana"], "read:notifications write:notifications")


@pytest.fixture
def anas_post(client: TestClient, people: dict[str, Account]) -> Post:
    return post_as(client, "ana", "anas lighthouse")


@pytest.fixture
def busy(client: TestClient, people: dict[str, Account], anas_post: Post) -> Post:
    """Ben follows ana, likes and boosts her post and replies to it; cal remixes it and likes it."""
    act(client, actions.follow, "ben", ANA)
    act(client, actions.like, "ben", anas_post.ap_id)
    act(client, actions.boost, "ben", anas_post.ap_id)
    post_as(client, "ben", "what a light", in_reply_to=anas_post)
    post_as(client, "cal", "my take on it", remix_of_ap_id=anas_post.ap_id)
    act(client, actions.like, "cal", anas_post.ap_id)
    return anas_post


def test_notifications_are_mastodons_entities_newest_first(
    client: TestClient, people: dict[str, Account], headers: Headers, busy: Post
) -> None:
    notifications = listed(client, headers)
    assert types_of(notifications) == ["favourite", "status", "mention", "reblog", "favourite", "follow"]
    ids = [int(item["id"]) for item in notifications]
    assert ids == sorted(ids, reverse=True)
    for item in notifications:
        assert isinstance(item["id"], str) and item["created_at"].endswith("Z") and item["account"]["id"]
    like, remix, reply, boost, first_like, follow = notifications
    # Mastodon's group keys: favourites and boosts per status and day, follows per day, the rest alone
    day = int(like["group_key"].rsplit("-", 1)[1])
    assert like["group_key"] == first_like["group_key"] == f"favourite-{busy.id}-{day}"
    assert boost["group_key"] == f"reblog-{busy.id}-{day}" and follow["group_key"] == f"follow-{day}"
    assert reply["group_key"] == f"ungrouped-{reply['id']}" and remix["group_key"] == f"ungrouped-{remix['id']}"
    assert like["account"]["username"] == "cal" and like["status"]["id"] == str(busy.id)
    assert like["status"]["favourites_count"] == 2 and like["status"]["account"]["username"] == "ana"
    assert boost["status"]["id"] == str(busy.id) and boost["status"]["reblog"] is None
    assert reply["status"]["content"] == "<p>what a light</p>" and reply["status"]["in_reply_to_id"] == str(busy.id)
    assert remix["reverie"] == {"type": "remix"} and remix["status"]["account"]["username"] == "cal"
    assert "status" not in follow and follow["account"]["acct"] == "ben"


def test_filters_by_type_and_account(
    client: TestClient, people: dict[str, Account], headers: Headers, busy: Post
) -> None:
    assert types_of(listed(client, headers, "?types[]=mention")) == ["mention"]
    assert types_of(listed(client, headers, "?types[]=favourite&types[]=follow")) == [
        "favourite",
        "favourite",
        "follow",
    ]
    assert types_of(listed(client, headers, "?types=reblog")) == ["reblog"]
    assert types_of(listed(client, headers, "?exclude_types[]=favourite&exclude_types[]=status")) == [
        "mention",
        "reblog",
        "follow",
    ]
    assert listed(client, headers, "?types[]=poll") == []
    assert len(listed(client, headers, "?exclude_types[]=admin.sign_up")) == 6
    cal = people["cal"].actor_id
    assert types_of(listed(client, headers, f"?account_id={cal}")) == ["favourite", "status"]


def test_paging_with_a_link_header(
    client: TestClient, people: dict[str, Account], headers: Headers, busy: Post
) -> None:
    every = [item["id"] for item in listed(client, headers)]
    first = client.get(f"{PATH}?limit=2&types[]=favourite&types[]=mention&types[]=reblog", headers=headers)
    assert [item["id"] for item in first.json()] == every[:1] + every[2:3]
    link = first.headers["link"]
    assert f'max_id={every[2]}>; rel="next"' in link and "types%5B%5D=favourite" in link
    assert [item["id"] for item in listed(client, headers, f"?max_id={every[1]}&limit=2")] == every[2:4]
    assert [item["id"] for item in listed(client, headers, f"?since_id={every[3]}")] == every[:3]
    assert [item["id"] for item in listed(client, headers, f"?min_id={every[5]}&limit=2")] == every[3:5]
    assert listed(client, headers, "?limit=nope")  # a bad limit is the default, never an error
    response = client.get(f"{PATH}?account_id=abc", headers=headers)
    assert response.status_code == 400 and "error" in response.json()
    # a cursor that is no id is never an error: read as Rails reads it (paging.py), an empty page here
    assert client.get(f"{PATH}?max_id=abc", headers=headers).json() == []
    assert len(listed(client, headers, "?since_id=-1")) == len(listed(client, headers, ""))


def test_one_dismiss_and_clear(
    client: TestClient, people: dict[str, Account], headers: Headers, busy: Post, token_for: TokenFor
) -> None:
    newest, second, *_ = listed(client, headers)
    one = client.get(f"{PATH}/{newest['id']}", headers=headers)
    assert one.status_code == 200 and one.json() == newest
    # Another account cannot read or dismiss it
    bens = token_for(people["ben"], "read write")
    assert client.get(f"{PATH}/{newest['id']}", headers=bens).status_code == 404
    assert client.post(f"{PATH}/{newest['id']}/dismiss", headers=bens).status_code == 404
    assert client.get(f"{PATH}/999999", headers=headers).status_code == 404
    # Dismissing removes one
    dismissed = client.post(f"{PATH}/{newest['id']}/dismiss", headers=headers)
    assert dismissed.status_code == 200 and dismissed.json() == {}
    assert client.get(f"{PATH}/{newest['id']}", headers=headers).status_code == 404
    assert listed(client, headers)[0]["id"] == second["id"]
    # And so does the old form Mastodon.py falls back to when it cannot tell the server's version
    assert client.post(f"{PATH}/dismiss", headers=headers, data={"id": second["id"]}).json() == {}
    assert client.get(f"{PATH}/{second['id']}", headers=headers).status_code == 404
    assert client.post(f"{PATH}/dismiss", headers=headers, data={"id": "nope"}).status_code == 404
    assert client.post(f"{PATH}/dismiss", headers=bens, data={"id": newest["id"]}).status_code == 404
    # Clearing removes the rest
    cleared = client.post(f"{PATH}/clear", headers=headers)
    assert cleared.status_code == 200 and cleared.json() == {}
    assert listed(client, headers) == []


def test_the_unread_count(
    client: TestClient, people: dict[str, Account], headers: Headers, busy: Post, token_for: TokenFor
) -> None:
    def count(query: str = "") -> int:
        response = client.get(f"{PATH}/unread_count{query}", headers=headers)
        assert response.status_code == 200
        return response.json()["count"]  # type: ignore[no-any-return]

    assert count() == 6
    assert count("?limit=2") == 2 and count("?limit=nope") == 6
    assert count("?types[]=favourite") == 2 and count("?exclude_types[]=favourite") == 4
    # Moving the notifications marker to the third newest leaves the two newer unread
    third = listed(client, headers)[2]["id"]
    marker = client.post(
        "/api/v1/markers",
        headers=token_for(people["ana"], "write:statuses"),
        json={"notifications": {"last_read_id": third}},
    )
    assert marker.status_code == 200
    assert count() == 2


def test_m1_a_post_the_reader_may_no_longer_see_hides_its_notification(
    client: TestClient, people: dict[str, Account], headers: Headers, anas_post: Post
) -> None:
    # Given ana following ben, and ben's followers-only reply to her post: she is told
    act(client, actions.follow, "ana", BEN)
    whisper = post_as(client, "ben", "for my followers", visibility=Visibility.FOLLOWERS, in_reply_to=anas_post)
    (reply,) = listed(client, headers, "?types[]=mention")
    assert reply["status"]["content"] == "<p>for my followers</p>"
    # When she stops following ben, the notification goes with her right to read the reply
    act(client, actions.unfollow, "ana", BEN)
    assert listed(client, headers, "?types[]=mention") == []
    assert client.get(f"{PATH}/{reply['id']}", headers=headers).status_code == 404
    assert client.post(f"{PATH}/{reply['id']}/dismiss", headers=headers).status_code == 404
    assert client.get(f"{PATH}/unread_count?types[]=mention", headers=headers).json() == {"count": 0}
    assert all("for my followers" not in str(item) for item in listed(client, headers))
    assert whisper.id


def test_m1_rows_stored_earlier_about_private_posts_stay_hidden(
    client: TestClient, people: dict[str, Account], headers: Headers, anas_post: Post
) -> None:
    # Given rows an earlier version stored for ana about ben's direct reply and direct remix
    whisper = post_as(client, "ben", "a direct whisper", visibility=Visibility.DIRECT, in_reply_to=anas_post)
    remix = post_as(client, "ben", "a private remix", visibility=Visibility.DIRECT, remix_of_ap_id=anas_post.ap_id)
    store_notification(client, people["ana"], NotificationType.REPLY, whisper)
    store_notification(client, people["ana"], NotificationType.REMIX, remix)
    act(client, actions.like, "cal", anas_post.ap_id)
    # Then the list, the count and the filters show only cal's like
    assert types_of(listed(client, headers)) == ["favourite"]
    assert types_of(listed(client, headers, "?types[]=mention&types[]=status")) == []
    assert client.get(f"{PATH}/unread_count", headers=headers).json() == {"count": 1}
    text = client.get(PATH, headers=headers).text
    assert "a direct whisper" not in text and "a private remix" not in text


def test_m1_a_blocked_account_says_nothing(
    client: TestClient, people: dict[str, Account], headers: Headers, busy: Post
) -> None:
    act(client, actions.block, "ana", BEN)
    notifications = listed(client, headers)
    assert {item["account"]["username"] for item in notifications} == {"cal"}
    assert client.get(f"{PATH}/unread_count", headers=headers).json() == {"count": 2}


def test_scopes(client: TestClient, people: dict[str, Account], token_for: TokenFor, busy: Post) -> None:
    ana = people["ana"]
    assert client.get(PATH).status_code == 401
    assert client.get(PATH, headers=token_for(ana, "read:statuses")).status_code == 403
    reader = token_for(ana, "read")
    newest = listed(client, reader)[0]["id"]
    refused = client.post(f"{PATH}/{newest}/dismiss", headers=reader)
    assert refused.status_code == 403 and "write:notifications" in refused.json()["error"]
    assert client.post(f"{PATH}/clear", headers=reader).status_code == 403
    assert client.get(PATH, headers=token_for(None, "read")).status_code == 401
    assert client.post(f"{PATH}/clear", headers=token_for(ana, "write")).status_code == 200

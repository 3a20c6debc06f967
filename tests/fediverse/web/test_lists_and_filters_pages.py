"""Our pages' lists (``/lists``) and filters (Settings → Filters): making, reading, changing and removing
them, adding a followed account from its profile, and filters applied to our feeds (a warning or hidden)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlmodel import col
from starlette.testclient import TestClient

from fediverse.social import actions
from fediverse.social.posts import PostDraft
from storage.models import Account, CustomFilter
from tests.conftest import run_in_app, services_of
from tests.fediverse.client_api.posting import follow
from tests.fediverse.web.conftest import BROWSER, PASSWORD, csrf_of, sign_in


def _publish(client: TestClient, username: str, caption: str) -> int:
    async def run() -> int:
        post = await actions.publish(services_of(client), username, PostDraft(caption=caption))
        return post.id

    return run_in_app(client, run)


def _filter_ids(client: TestClient, account: Account) -> list[int]:
    async def read() -> list[int]:
        async with services_of(client).db.session() as session:
            query = select(col(CustomFilter.id)).where(col(CustomFilter.account_id) == account.id)
            return list(await session.scalars(query))

    return run_in_app(client, read)


def test_a_list_is_made_filled_from_a_profile_read_and_deleted(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    make_user("ana", password=PASSWORD)
    ben, cara = make_user("ben", password=PASSWORD), make_user("cara", password=PASSWORD)
    follow(client, "ana", "ben")
    bens = _publish(client, "ben", "ben's harbour")
    caras = _publish(client, "cara", "cara's hills")
    # A visitor is asked to sign in
    assert client.get("/lists", headers=BROWSER).status_code == 401
    token = sign_in(client, "ana")
    page = client.get("/lists", headers=BROWSER)
    assert page.status_code == 200 and "You have no lists yet." in page.text
    made = client.post(
        "/lists",
        data={"csrf_token": token, "title": "Harbours", "replies_policy": "list"},
        headers=BROWSER,
        follow_redirects=False,
    )
    assert made.status_code == 303
    list_path = made.headers["location"]
    # ben's profile menu leads to the lists page for him; cara (not followed) has no such link
    assert f'href="/lists/member/{ben.actor_id}"' in client.get("/@ben", headers=BROWSER).text
    assert "/lists/member/" not in client.get("/@cara", headers=BROWSER).text
    choices = client.get(f"/lists/member/{ben.actor_id}", headers=BROWSER)
    assert "Harbours" in choices.text and "Add @ben@" in choices.text
    added = client.post(
        f"{list_path}/members",
        data={"csrf_token": token, "actor": str(ben.actor_id), "next": f"/lists/member/{ben.actor_id}"},
        headers=BROWSER,
        follow_redirects=False,
    )
    assert added.headers["location"] == f"/lists/member/{ben.actor_id}"
    assert "Remove @ben@" in client.get(f"/lists/member/{ben.actor_id}", headers=BROWSER).text
    refused = client.post(
        f"{list_path}/members", data={"csrf_token": token, "actor": str(cara.actor_id)}, headers=BROWSER
    )
    assert refused.status_code == 422
    # The list's page: ben's post, not cara's, and ben among the members
    listed = client.get(list_path, headers=BROWSER).text
    assert f'id="post-{bens}"' in listed and f'id="post-{caras}"' not in listed
    assert "Remove @ben@" in listed
    # Renamed and made exclusive: ben leaves Home
    assert f'id="post-{bens}"' in client.get("/", headers=BROWSER).text
    client.post(list_path, data={"csrf_token": token, "title": "Ports", "replies_policy": "none", "exclusive": "on"})
    listed = client.get(list_path, headers=BROWSER).text
    assert "<h1>Ports</h1>" in listed and "kept out of Home" in listed
    assert f'id="post-{bens}"' not in client.get("/", headers=BROWSER).text
    # Removing ben, then deleting the list
    client.post(f"{list_path}/members", data={"csrf_token": token, "actor": str(ben.actor_id), "remove": "1"})
    assert f'id="post-{bens}"' not in client.get(list_path, headers=BROWSER).text
    deleted = client.post(f"{list_path}/delete", data={"csrf_token": token}, headers=BROWSER, follow_redirects=False)
    assert deleted.headers["location"] == "/lists"
    assert client.get(list_path, headers=BROWSER).status_code == 404
    # Forms need the CSRF token
    assert client.post("/lists", data={"title": "x"}, headers=BROWSER).status_code == 403


def test_filters_are_made_in_settings_and_applied_to_feeds(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    ana = make_user("ana", password=PASSWORD)
    make_user("ben", password=PASSWORD)
    follow(client, "ana", "ben")
    spoiler = _publish(client, "ben", "the finale was a surprise")
    storm = _publish(client, "ben", "a storm over the bay")
    calm = _publish(client, "ben", "a calm morning")
    own = _publish(client, "ana", "my storm")
    token = sign_in(client, "ana")
    page = client.get("/settings/filters", headers=BROWSER)
    assert page.status_code == 200 and "You have no filters." in page.text
    assert csrf_of(page.text) == token
    for title, keyword, action in (("Spoilers", "finale", "warn"), ("Weather", "storm", "hide")):
        made = client.post(
            "/settings/filters",
            data={
                "csrf_token": token,
                "title": title,
                "keywords": keyword,
                "whole_word": "on",
                "context_home": "on",
                "action": action,
                "expires_in": "",
            },
            headers=BROWSER,
            follow_redirects=False,
        )
        assert made.status_code == 303, made.text
    listed = client.get("/settings/filters", headers=BROWSER).text
    assert "Spoilers" in listed and "Hide completely" in listed
    home = client.get("/", headers=BROWSER).text
    assert "Filtered: Spoilers" in home and f'id="post-{spoiler}"' in home  # behind a warning
    assert f'id="post-{storm}"' not in home  # hidden
    assert f'id="post-{calm}"' in home and f'id="post-{own}"' in home  # one's own posts are never filtered
    # only where chosen: the local feed is not filtered
    local = client.get("/local", headers=BROWSER).text
    assert f'id="post-{storm}"' in local and "Filtered:" not in local
    # refusals: no keyword, no context
    empty = {"csrf_token": token, "title": "x", "keywords": " ", "context_home": "on", "expires_in": ""}
    assert client.post("/settings/filters", data=empty, headers=BROWSER).status_code == 400
    nowhere = {"csrf_token": token, "title": "x", "keywords": "y", "expires_in": ""}
    assert client.post("/settings/filters", data=nowhere, headers=BROWSER).status_code == 422
    # deleting the hide filter brings the post back
    for filter_id in _filter_ids(client, ana):
        client.post(f"/settings/filters/{filter_id}/delete", data={"csrf_token": token}, headers=BROWSER)
    home = client.get("/", headers=BROWSER).text
    assert f'id="post-{storm}"' in home and "Filtered:" not in home

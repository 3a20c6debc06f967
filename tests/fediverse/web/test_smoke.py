"""Every page answers 200 for a visitor and for a signed-in admin (templates render with real rows)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from storage.models import Account, Post
from tests.fediverse.web.conftest import BROWSER, page_url, sign_in

PUBLIC_PAGES = ["/", "/local", "/federated", "/tags/world", "/@ana", "/about", "/login", "/search", "/@ana/followers"]
SIGNED_IN_PAGES = [
    *PUBLIC_PAGES[:5],
    "/@ben",
    "/compose",
    "/notifications",
    "/search?q=ben",
    "/settings/profile",
    "/settings/account",
    "/admin",
    "/@ana/following",
]


def assert_pages_render(client: TestClient, paths: list[str]) -> None:
    for path in paths:
        response = client.get(path, headers=BROWSER)
        assert response.status_code == 200, (path, response.text[:2000])


def test_every_page_renders(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    make_member("ana", is_admin=True)
    make_member("ben")
    post = post_as("ana", caption="hello #world", mood_emoji="🌙", mood_word="dreamy")
    assert_pages_render(client, [*PUBLIC_PAGES, page_url("ana", post)])
    sign_in(client, "ana")
    assert_pages_render(client, [*SIGNED_IN_PAGES, page_url("ana", post)])

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from storage.models import Account, Post
from tests.fediverse.web.conftest import BROWSER, page_url, sign_in


def test_every_page_renders(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    make_member("ana", is_admin=True)
    make_member("ben")
    post = post_as("ana", caption="hello #world", mood_emoji="🌙", mood_word="dreamy")
    for path in [
        "/",
        "/local",
        "/federated",
        "/tags/world",
        "/@ana",
        page_url("ana", post),
        "/about",
        "/login",
        "/search",
        "/@ana/followers",
    ]:
        response = client.get(path, headers=BROWSER)
        assert response.status_code == 200, (path, response.text[:3000])
    sign_in(client, "ana")
    for path in [
        "/",
        "/local",
        "/federated",
        "/tags/world",
        "/@ana",
        "/@ben",
        page_url("ana", post),
        "/compose",
        "/notifications",
        "/search?q=ben",
        "/settings/profile",
        "/settings/account",
        "/admin",
        "/@ana/following",
    ]:
        response = client.get(path, headers=BROWSER)
        assert response.status_code == 200, (path, response.text[:3000])

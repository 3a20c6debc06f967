"""Search and follows across servers, against a fake peer on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from starlette.testclient import TestClient

from storage.models import Account
from tests.conftest import TEST_BASE_URL, run_in_app
from tests.fediverse.federation.conftest import client, peer, settings  # the app with loopback peers allowed
from tests.fediverse.web.conftest import BROWSER, form_token_of, sign_in
from tests.peers import FakePeer

__all__ = ["client", "peer", "settings"]


def test_search_finds_a_remote_account_and_follows_it(
    client: TestClient, make_member: Callable[..., Account], peer: FakePeer
) -> None:
    zoe = peer.add_actor("zoe")
    make_member("ana")
    token = sign_in(client, "ana")
    # When Ana searches for @zoe@host, WebFinger and the actor document are fetched.
    page = client.get(f"/search?q=@zoe@{peer.host}", headers=BROWSER)
    assert page.status_code == 200
    assert f"@zoe@{peer.host}" in page.text and 'action="/follow"' in page.text
    # And following from the result queues a Follow that reaches Zoe's server.
    button = client.post(
        "/follow", data={"csrf_token": token, "target": zoe.id}, headers={**BROWSER, "HX-Request": "true"}
    )
    assert "Requested" in button.text
    run_in_app(client, client.app_state["worker"].drain)
    follows = peer.activities("Follow")
    assert follows and follows[0]["object"] == zoe.id
    assert f"/@zoe@{peer.host}" in page.text
    assert client.get(f"/@zoe@{peer.host}", headers=BROWSER).status_code == 200


def test_search_for_an_unknown_account_says_so(
    client: TestClient, make_member: Callable[..., Account], peer: FakePeer
) -> None:
    make_member("ana")
    sign_in(client, "ana")
    page = client.get(f"/search?q=@nobody@{peer.host}", headers=BROWSER)
    assert page.status_code == 200 and "Nothing found for" in page.text


def test_visitor_follows_from_their_own_server(
    client: TestClient, make_member: Callable[..., Account], peer: FakePeer
) -> None:
    make_member("ana")
    peer.add_actor("zoe")
    profile = client.get("/@ana", headers=BROWSER)
    assert "Follow Ana" in profile.text or "Follow ana" in profile.text
    response = client.post(
        "/@ana/remote-follow",
        data={"handle": f"zoe@{peer.host}", "form_token": form_token_of(profile.text)},
        headers=BROWSER,
        follow_redirects=False,
    )
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{peer.base_url}/authorize_interaction"
    assert parse_qs(target.query)["uri"] == [f"{TEST_BASE_URL}/users/ana"]


def test_other_servers_send_people_here_to_interact(client: TestClient, make_member: Callable[..., Account]) -> None:
    make_member("ana")
    uri = "https://mastodon.example/@ben"
    response = client.get(f"/authorize_interaction?uri={uri}", headers=BROWSER, follow_redirects=False)
    assert response.headers["location"].startswith("/login?next=%2Fsearch")
    sign_in(client, "ana")
    response = client.get(f"/authorize_interaction?uri={uri}", headers=BROWSER, follow_redirects=False)
    assert parse_qs(urlsplit(response.headers["location"]).query)["q"] == [uri]

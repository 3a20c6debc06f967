"""Search through the client API (``/api/v2/search``, ``/api/v1/accounts/search``): local accounts and
hashtags, posts by URL, and with ``resolve=true`` accounts and posts fetched from a real fake peer on
127.0.0.1 through our WebFinger and signed-fetch code."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from fediverse.social import actions
from storage.models import Account, Visibility
from tests.conftest import services_of
from tests.fediverse.client_api.acting import act, publish
from tests.fediverse.client_api.conftest import token_for
from tests.fediverse.client_api.shapes import SEARCH_KEYS, STATUS_KEYS, TAG_KEYS, assert_account, assert_shape
from tests.fediverse.federation.conftest import client, peer, remote_note, settings
from tests.peers import FakePeer

__all__ = ["client", "peer", "settings", "token_for"]

Tokens = Callable[..., dict[str, str]]
Users = Callable[..., Account]


def _search(client: TestClient, headers: dict[str, str] | None = None, **params: str) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    response = client.get("/api/v2/search", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    found = response.json()
    assert_shape(found, SEARCH_KEYS)
    return found  # type: ignore[no-any-return]


def _names(items: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [item["acct"] for item in items]


def test_local_accounts_by_name(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana = make_user("ana", display_name="Harbour painter")
    make_user("anabel")
    make_user("ben", display_name="Banana")
    found = _search(client, q="ana")
    assert _names(found["accounts"]) == ["ana", "anabel", "ben"]
    for item in found["accounts"]:
        assert_account(item)
    assert found["statuses"] == []
    assert _names(_search(client, q="harbour", type="accounts")["accounts"]) == ["ana"]
    assert _names(_search(client, q="@ana", limit="1")["accounts"]) == ["ana"]
    assert _names(_search(client, token_for(ana), q="ana", limit="1", offset="1")["accounts"]) == ["anabel"]
    act(client, actions.follow, "ana", services_of(client).urls.actor_id("ben"))
    assert _names(_search(client, token_for(ana), q="an", following="true")["accounts"]) == ["ben"]
    assert _names(_search(client, q="ana@127.0.0.1:8765")["accounts"]) == ["ana"]


def test_hashtags_by_prefix(client: TestClient, make_user: Users) -> None:
    make_user("ana")
    publish(client, "ana", "#HarbourLights and #harbor at #dusk")
    found = _search(client, q="#harb")
    assert [tag["name"] for tag in found["hashtags"]] == ["harbor", "harbourlights"]
    for tag in found["hashtags"]:
        assert_shape(tag, TAG_KEYS)
        assert tag["url"].startswith("http://127.0.0.1:8765/tags/")
    assert [tag["name"] for tag in _search(client, q="dusk", type="hashtags")["hashtags"]] == ["dusk"]
    assert _search(client, q="dusk", type="accounts")["hashtags"] == []
    assert _search(client, q="100%_")["hashtags"] == []  # LIKE's wildcards are only characters


def test_posts_by_url_only_when_visible(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    public = publish(client, "ana", "open to all")
    private = publish(client, "ana", "for followers", visibility=Visibility.FOLLOWERS)
    for url in (public.ap_id, public.url or ""):
        (status,) = _search(client, q=url)["statuses"]
        assert_shape(status, STATUS_KEYS)
        assert status["id"] == str(public.id)
    assert _search(client, q=private.url or "")["statuses"] == []
    assert _search(client, token_for(ben), q=private.url or "")["statuses"] == []
    assert [item["id"] for item in _search(client, token_for(ana), q=private.url or "")["statuses"]] == [
        str(private.id)
    ]
    assert _search(client, q="open to all")["statuses"] == []  # no full-text search of posts
    (profile,) = _search(client, q="http://127.0.0.1:8765/@ana")["accounts"]
    assert profile["acct"] == "ana"


def test_resolve_a_remote_handle_and_post(
    client: TestClient, peer: FakePeer, make_user: Users, token_for: Tokens
) -> None:
    ana = make_user("ana")
    remote = peer.add_actor("remy")
    handle = f"@remy@{peer.host}"
    assert _search(client, token_for(ana), q=handle)["accounts"] == []  # not known yet, and not resolved
    refused = client.get("/api/v2/search", params={"q": handle, "resolve": "true"})
    assert refused.status_code == 401
    found = _search(client, token_for(ana, "read:search"), q=handle, resolve="true")
    (account,) = found["accounts"]
    assert_account(account)
    assert account["acct"] == f"remy@{peer.host}"
    assert account["uri"] == remote.id
    # now known: found without resolving, by anyone
    assert _names(_search(client, q=handle)["accounts"]) == [f"remy@{peer.host}"]
    note = remote_note(remote, 7, "<p>a lighthouse</p>")
    peer.add_object(note)
    statuses = _search(client, token_for(ana), q=note["id"], resolve="1", type="statuses")["statuses"]
    assert [status["uri"] for status in statuses] == [note["id"]]
    assert statuses[0]["account"]["acct"] == f"remy@{peer.host}"
    assert statuses[0]["content"] == "<p>a lighthouse</p>"
    other = peer.add_actor("rosa", key_index=1)
    by_url = _search(client, token_for(ana), q=other.id, resolve="true")
    assert _names(by_url["accounts"]) == [f"rosa@{peer.host}"]
    assert by_url["statuses"] == []


def test_resolve_failures_are_empty_results(
    client: TestClient, peer: FakePeer, make_user: Users, token_for: Tokens
) -> None:
    ana = make_user("ana")
    headers = token_for(ana)
    assert _search(client, headers, q=f"nobody@{peer.host}", resolve="true")["accounts"] == []
    missing = _search(client, headers, q=f"{peer.base_url}/users/nobody/statuses/1", resolve="true")
    assert missing == {"accounts": [], "statuses": [], "hashtags": []}
    assert _search(client, headers, q="someone@unreachable.invalid", resolve="true")["accounts"] == []


def test_search_refuses_bad_input(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana = make_user("ana")
    assert client.get("/api/v2/search").status_code == 400
    assert client.get("/api/v2/search").json()["error"]
    assert client.get("/api/v2/search", params={"q": "   "}).status_code == 400
    assert client.get("/api/v2/search", params={"q": "x" * 501}).status_code == 422
    assert client.get("/api/v2/search", params={"q": "ana", "offset": "1"}).status_code == 401
    bad_offset = client.get("/api/v2/search", params={"q": "ana", "offset": "-3"}, headers=token_for(ana))
    assert bad_offset.status_code == 422 and "offset" in bad_offset.json()["error"]
    assert (
        client.get("/api/v2/search", params={"q": "ana", "offset": "many"}, headers=token_for(ana)).status_code == 422
    )
    assert client.get("/api/v2/search", params={"q": "ana"}, headers=token_for(ana, "write")).status_code == 403
    assert _search(client, q="ana", type="bogus") == {"accounts": [], "statuses": [], "hashtags": []}
    assert _names(_search(client, q="ana", limit="nonsense")["accounts"]) == ["ana"]


def test_v1_accounts_search(client: TestClient, peer: FakePeer, make_user: Users, token_for: Tokens) -> None:
    ana = make_user("ana")
    make_user("anabel")
    peer.add_actor("remy")
    path = "/api/v1/accounts/search"
    assert client.get(path, params={"q": "ana"}).status_code == 401
    assert client.get(path, params={"q": "ana"}, headers=token_for(ana, "read:search")).status_code == 403
    found = client.get(path, params={"q": "ana", "limit": 1}, headers=token_for(ana, "read:accounts"))
    assert found.status_code == 200
    assert _names(found.json()) == ["ana"]
    resolved = client.get(path, params={"q": f"remy@{peer.host}", "resolve": "true"}, headers=token_for(ana))
    assert _names(resolved.json()) == [f"remy@{peer.host}"]
    assert client.get(path, headers=token_for(ana)).status_code == 400


@pytest.mark.parametrize("query", ["#", "@", "http://", "https://127.0.0.1:8765/@nobody/123"])
def test_odd_queries_answer_empty(client: TestClient, make_user: Users, query: str) -> None:
    make_user("ana")
    found = _search(client, q=query)
    assert found["statuses"] == []


def test_nul_characters_are_refused_not_stored(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana = make_user("ana")
    search = client.get("/api/v2/search", params={"q": "an\x00a"})
    assert search.status_code == 422 and "q " in search.json()["error"]
    assert client.get("/api/v1/accounts/lookup", params={"acct": "an\x00a"}).status_code == 422
    statuses = client.get(f"/api/v1/accounts/{ana.actor_id}/statuses", params={"tagged": "a\x00"})
    assert statuses.status_code == 422
    blocked = client.post("/api/v1/domain_blocks", data={"domain": "x\x00.example"}, headers=token_for(ana))
    assert blocked.status_code == 422
    named = client.patch("/api/v1/accounts/update_credentials", json={"note": "a\x00b"}, headers=token_for(ana))
    assert named.status_code == 422 and "note" in named.json()["error"]

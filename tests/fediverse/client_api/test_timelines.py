"""Timelines (home, public, tag) and the caller's favourites and bookmarks: what each lists, the visibility
rule, and paging by ``max_id``/``since_id``/``min_id``/``limit`` with a ``Link`` header."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.testclient import TestClient

from fediverse.social import actions
from storage.models import Account
from tests.fediverse.client_api.posting import act, check_status, follow, remote_post, upload

Headers = Callable[..., dict[str, str]]


def _post(client: TestClient, headers: dict[str, str], text: str, **fields: Any) -> str:
    response = client.post("/api/v1/statuses", json={"status": text, **fields}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


def _links(response: Any) -> dict[str, dict[str, list[str]]]:
    """``{"next": query, "prev": query}`` of the Link header."""
    found = {}
    for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers.get("link", "")):
        found[rel] = parse_qs(urlsplit(url).query)
    return found


def test_home_has_followed_accounts_own_posts_and_boosts(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben, cara = make_user("ana"), make_user("ben"), make_user("cara")
    follow(client, "ana", "ben")
    hers = _post(client, token_for(ana), "mine")
    his = _post(client, token_for(ben), "from ben")
    stranger = _post(client, token_for(cara), "from a stranger")
    private = _post(client, token_for(ben), "friends", visibility="private")
    boost = client.post(f"/api/v1/statuses/{stranger}/reblog", headers=token_for(ben)).json()["id"]
    response = client.get("/api/v1/timelines/home", headers=token_for(ana))
    assert _ids(response) == [boost, private, his, hers]
    for status in response.json():
        check_status(status)
    assert response.json()[0]["reblog"]["id"] == stranger
    # cara's home has only her own post; home needs a user token
    assert _ids(client.get("/api/v1/timelines/home", headers=token_for(cara))) == [stranger]
    assert client.get("/api/v1/timelines/home").status_code == 401
    assert client.get("/api/v1/timelines/home", headers=token_for(ana, "write")).status_code == 403


def test_home_pages_older_and_newer(client: TestClient, make_user: Callable[..., Account], token_for: Headers) -> None:
    ana = make_user("ana")
    headers = token_for(ana)
    ids = [_post(client, headers, f"post {number}") for number in range(5)]  # oldest first
    newest_first = ids[::-1]
    first = client.get("/api/v1/timelines/home", params={"limit": 2}, headers=headers)
    assert _ids(first) == newest_first[:2]
    links = _links(first)
    assert links["next"]["max_id"] == [newest_first[1]] and links["next"]["limit"] == ["2"]
    assert links["prev"]["min_id"] == [newest_first[0]]
    second = client.get("/api/v1/timelines/home", params={"limit": 2, "max_id": newest_first[1]}, headers=headers)
    assert _ids(second) == newest_first[2:4]
    # since_id: the newest above it; min_id: those just above it — both newest first
    assert _ids(client.get("/api/v1/timelines/home", params={"since_id": ids[1], "limit": 2}, headers=headers)) == [
        ids[4],
        ids[3],
    ]
    assert _ids(client.get("/api/v1/timelines/home", params={"min_id": ids[1], "limit": 2}, headers=headers)) == [
        ids[3],
        ids[2],
    ]
    assert _ids(client.get("/api/v1/timelines/home", params={"min_id": ids[4]}, headers=headers)) == []
    both = client.get("/api/v1/timelines/home", params={"min_id": ids[0], "max_id": ids[3]}, headers=headers)
    assert _ids(both) == [ids[2], ids[1]]
    # limit is clamped, never an error; so is a cursor that is no id (see the test of malformed cursors)
    assert len(_ids(client.get("/api/v1/timelines/home", params={"limit": 0}, headers=headers))) == 1
    assert len(_ids(client.get("/api/v1/timelines/home", params={"limit": 500}, headers=headers))) == 5
    assert len(_ids(client.get("/api/v1/timelines/home", params={"limit": "lots"}, headers=headers))) == 5
    for bad in ({"max_id": "abc"}, {"min_id": str(2**64)}):
        assert _ids(client.get("/api/v1/timelines/home", params=bad, headers=headers)) == [], bad


def test_public_timeline_local_remote_and_media(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    text_only = _post(client, token_for(ana), "words")
    picture = upload(client, ana)
    with_media = _post(client, token_for(ana), "a picture", media_ids=[str(picture.id)])
    _post(client, token_for(ana), "unlisted", visibility="unlisted")
    _post(client, token_for(ana), "private", visibility="private")
    reply = _post(client, token_for(ben), "a reply", in_reply_to_id=text_only)
    far = str(remote_post(client).id)
    everyone = client.get("/api/v1/timelines/public")
    assert _ids(everyone) == [far, with_media, text_only]
    assert reply not in _ids(everyone)
    assert _ids(client.get("/api/v1/timelines/public", params={"local": "true"})) == [with_media, text_only]
    assert _ids(client.get("/api/v1/timelines/public", params={"remote": "1"})) == [far]
    assert _ids(client.get("/api/v1/timelines/public", params={"only_media": "true"})) == [with_media]
    assert _ids(client.get("/api/v1/timelines/public", params={"local": "false"})) == [far, with_media, text_only]
    assert client.get("/api/v1/timelines/public", params={"local": "sometimes"}).status_code == 422
    # a signed-in viewer who muted ana does not see her there
    assert _ids(client.get("/api/v1/timelines/public", headers=token_for(ben))) == [far, with_media, text_only]
    act(client, actions.mute, "ben", "ana")
    assert _ids(client.get("/api/v1/timelines/public", headers=token_for(ben))) == [far]


def test_tag_timeline_with_any_of_several_tags(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana = make_user("ana")
    sea = _post(client, token_for(ana), "waves #Sea")
    sky = _post(client, token_for(ana), "clouds #sky")
    _post(client, token_for(ana), "hidden #sea", visibility="private")
    _post(client, token_for(ana), "nothing tagged")
    assert _ids(client.get("/api/v1/timelines/tag/sea")) == [sea]
    assert _ids(client.get("/api/v1/timelines/tag/SEA")) == [sea]
    assert _ids(client.get("/api/v1/timelines/tag/sea", params={"any[]": ["sky"]})) == [sky, sea]
    assert _ids(client.get("/api/v1/timelines/tag/nothing")) == []
    assert _ids(client.get("/api/v1/timelines/tag/sea", params={"only_media": "true"})) == []
    assert client.get("/api/v1/timelines/tag/" + "x" * 300).status_code == 404


def test_favourites_page_by_the_favourites_ids(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    follow(client, "ben", "ana")
    ids = [_post(client, token_for(ana), f"post {number}") for number in range(3)]
    private = _post(client, token_for(ana), "friends", visibility="private")
    # ben favourites them in another order than they were posted
    for status_id in (ids[2], ids[0], private, ids[1]):
        assert client.post(f"/api/v1/statuses/{status_id}/favourite", headers=token_for(ben)).status_code == 200
    listed = client.get("/api/v1/favourites", headers=token_for(ben))
    assert _ids(listed) == [ids[1], private, ids[0], ids[2]]  # newest favourite first
    assert all(item["favourited"] for item in listed.json())
    first = client.get("/api/v1/favourites", params={"limit": 2}, headers=token_for(ben))
    assert _ids(first) == [ids[1], private]
    cursor = _links(first)["next"]["max_id"][0]
    assert cursor not in (ids[1], private)  # the favourite's own id, not the status's
    assert _ids(client.get("/api/v1/favourites", params={"max_id": cursor}, headers=token_for(ben))) == [ids[0], ids[2]]
    newer = _links(first)["prev"]["min_id"][0]
    assert _ids(client.get("/api/v1/favourites", params={"min_id": newer}, headers=token_for(ben))) == []
    # an undone favourite leaves the list; so does the followers-only post once ben stops following ana
    client.post(f"/api/v1/statuses/{ids[0]}/unfavourite", headers=token_for(ben))
    assert _ids(client.get("/api/v1/favourites", headers=token_for(ben))) == [ids[1], private, ids[2]]
    act(client, actions.unfollow, "ben", "ana")
    assert _ids(client.get("/api/v1/favourites", headers=token_for(ben))) == [ids[1], ids[2]]
    assert client.get("/api/v1/favourites", headers=token_for(ben, "read:bookmarks")).status_code == 403
    assert client.get("/api/v1/favourites", headers=token_for(ana)).json() == []


def test_malformed_cursors_are_read_as_mastodon_reads_them(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    """Never an error: Rails takes a cursor's leading number (``"12abc"`` is 12), and text with none
    compares with NULL, so the page is empty (200 ``[]``)."""
    ana = make_user("ana")
    headers = token_for(ana)
    ids = [_post(client, headers, f"post {number}") for number in range(3)]
    for path in ("/api/v1/timelines/home", "/api/v1/timelines/public", f"/api/v1/accounts/{ana.actor_id}/statuses"):
        for name in ("max_id", "since_id", "min_id"):
            response = client.get(path, params={name: "abc"}, headers=headers)
            assert response.status_code == 200 and response.json() == [], (path, name)
            assert "link" not in response.headers
        assert _ids(client.get(path, params={"max_id": f"{ids[2]}abc"}, headers=headers)) == ids[1::-1]
        assert _ids(client.get(path, params={"since_id": f" {ids[0]}"}, headers=headers)) == ids[:0:-1]
        assert _ids(client.get(path, params={"max_id": "9" * 30}, headers=headers)) == ids[::-1]
        assert _ids(client.get(path, params={"max_id": "-5"}, headers=headers)) == []
        assert _ids(client.get(path, params={"since_id": "-5"}, headers=headers)) == ids[::-1]
        assert _ids(client.get(path, params={"min_id": "9" * 30}, headers=headers)) == []

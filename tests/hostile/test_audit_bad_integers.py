"""Audit W10: numbers from outside — ids and page numbers in paths, query strings, forms and JSON.

Each is read by one helper (``fediverse.core.ids.parse_id``); a path id only matches a route when the database
can hold it. A number past a 64-bit signed column, a negative one, or no number at all gets a 400 or a
404, signed in or not, on SQLite and PostgreSQL: never a 500 (SQLite raises ``OverflowError`` past
2**63-1; asyncpg raises on int64 overflow).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.convertors import IntegerConvertor
from starlette.routing import Route
from starlette.testclient import TestClient

from fediverse.core.config import Settings
from fediverse.core.ids import MAX_ID, parse_id
from fediverse.web.app import create_app
from fediverse.web.params import IdConvertor
from storage.models import Account, Post
from tests.conftest import TEST_BASE_URL
from tests.fediverse.federation.conftest import AS2
from tests.fediverse.web.conftest import BROWSER, make_member, post_as, sign_in

__all__ = ["make_member", "post_as"]

#: Past 64 bits; just past a signed 64-bit column; negative; and no (ASCII) number at all.
BAD_NUMBERS = ["99999999999999999999999", str(2**63), "9999999999999999999", "-1", "abc", "²", "1.5", "0x10"]
BEN = f"{TEST_BASE_URL}/users/ben"
#: Answers as sent: a redirect to the sign-in page is not followed.
STAY: dict[str, Any] = {"follow_redirects": False}


@dataclass(frozen=True)
class Visit:
    client: TestClient
    csrf_token: str  # "" when signed out
    post_id: int

    def form(self, path: str, **fields: str) -> httpx.Response:
        return self.client.post(path, data={"csrf_token": self.csrf_token, **fields}, headers=BROWSER, **STAY)

    def api(self, method: str, path: str, body: object = None) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf_token, "Accept": "application/json"}
        if body is None:
            return self.client.request(method, path, headers=headers, **STAY)
        headers["Content-Type"] = "application/json"
        return self.client.request(method, path, headers=headers, content=json.dumps(body), **STAY)


def _as_json(value: str) -> object:
    """The value as JSON would carry it: a number where it is one (``-1``, 2**63, …), else the string."""
    try:
        return json.loads(value)
    except ValueError:
        return value


@dataclass(frozen=True)
class Case:
    what: str
    send: Callable[[Visit, str], httpx.Response]
    members_only: bool = False


def _get(path: str, headers: dict[str, str] = BROWSER) -> Callable[[Visit, str], httpx.Response]:
    return lambda visit, value: visit.client.get(path.format(value=value, post=visit.post_id), headers=headers, **STAY)


def _posted(path: str, **fields: str) -> Callable[[Visit, str], httpx.Response]:
    def send(visit: Visit, value: str) -> httpx.Response:
        filled = {name: field.format(value=value) for name, field in fields.items()}
        return visit.form(path.format(value=value), **filled)

    return send


def _api(method: str, path: str, body: Callable[[str], object] | None = None) -> Callable[[Visit, str], httpx.Response]:
    return lambda visit, value: visit.api(method, path.format(value=value), None if body is None else body(value))


CASES = [
    # ActivityPub collections and objects, read by any server
    Case("outbox max_id", _get("/users/ana/outbox?page=true&max_id={value}", AS2)),
    Case("outbox page", _get("/users/ana/outbox?page={value}", AS2)),
    Case("followers page", _get("/users/ana/followers?page={value}", AS2)),
    Case("following page", _get("/users/ana/following?page={value}", AS2)),
    Case("featured page", _get("/users/ana/collections/featured?page={value}", AS2)),
    Case("featured tags page", _get("/users/ana/collections/tags?page={value}", AS2)),
    Case("note id", _get("/users/ana/statuses/{value}", AS2)),
    Case("note id, browser", _get("/users/ana/statuses/{value}")),
    Case("note activity id", _get("/users/ana/statuses/{value}/activity", AS2)),
    Case("replies id", _get("/users/ana/statuses/{value}/replies", AS2)),
    Case("replies min_id", _get("/users/ana/statuses/{post}/replies?page=true&min_id={value}", AS2)),
    # Pages
    Case("post page id", _get("/@ana/{value}")),
    Case("post page id, as ActivityPub", _get("/@ana/{value}", AS2)),
    Case("profile max_id", _get("/@ana?max_id={value}")),
    Case("follower list page", _get("/@ana/followers?page={value}")),
    Case("following list page", _get("/@ana/following?page={value}")),
    Case("home max_id", _get("/?max_id={value}")),
    Case("local max_id", _get("/local?max_id={value}")),
    Case("federated max_id", _get("/federated?max_id={value}")),
    Case("tag max_id", _get("/tags/dreams?max_id={value}")),
    Case("notifications max_id", _get("/notifications?max_id={value}"), members_only=True),
    Case("compose media", _get("/compose?media={value}"), members_only=True),
    Case("report form post", _get(f"/report?account={BEN}&post={{value}}"), members_only=True),
    # Forms
    *(
        Case(f"post {verb}", _posted(f"/posts/{{value}}/{verb}"), members_only=True)
        for verb in ("like", "unlike", "boost", "unboost", "delete", "replies/fetch")
    ),
    Case("admin report id", _posted("/admin/reports/{value}/resolve"), members_only=True),
    Case("reply to", _posted("/compose/text", caption="hello", in_reply_to="{value}"), members_only=True),
    Case("publish pictures", _posted("/compose/pictures", media_ids="{value}"), members_only=True),
    Case(
        "upload beside drafts",
        lambda visit, value: visit.client.post(
            "/compose/upload",
            data={"csrf_token": visit.csrf_token, "media": value},
            files={"file": ("", b"")},
            headers=BROWSER,
            **STAY,
        ),
        members_only=True,
    ),
    Case("report posts", _posted("/report", account=BEN, comment="spam", post="{value}"), members_only=True),
    # The JSON API
    Case("generation id", _api("GET", "/api/generations/{value}"), members_only=True),
    Case("generation events id", _api("GET", "/api/generations/{value}/events"), members_only=True),
    Case("generation cancel id", _api("POST", "/api/generations/{value}/cancel"), members_only=True),
    Case("media edit id", _api("PATCH", "/api/media/{value}", lambda _: {"alt_text": "x"}), members_only=True),
    Case("media delete id", _api("DELETE", "/api/media/{value}"), members_only=True),
    Case("post media_ids", _api("POST", "/api/posts", lambda value: {"media_ids": [value]}), members_only=True),
    Case(
        "post media_ids as numbers",
        _api("POST", "/api/posts", lambda value: {"media_ids": [_as_json(value)]}),
        members_only=True,
    ),
    Case("post alt_texts", _api("POST", "/api/posts", lambda value: {"alt_texts": {value: "a"}}), members_only=True),
]


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app, answering a failure with the 500 a visitor would see rather than raising it here."""
    with TestClient(create_app(settings), base_url=TEST_BASE_URL, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def post(client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]) -> Post:
    make_member("ana", is_admin=True)
    make_member("ben")
    return post_as("ana", caption="a lighthouse")


@pytest.mark.parametrize("case", CASES, ids=[case.what for case in CASES])
def test_w10_bad_integers_get_400_or_404_never_500(client: TestClient, post: Post, case: Case) -> None:
    for signed_in in (False, True):
        # Given ana's post, and nobody signed in, then ana
        visit = Visit(client, sign_in(client, "ana") if signed_in else "", post.id or 0)
        allowed = {400, 404} if signed_in or not case.members_only else {303, 400, 401, 403, 404}
        for value in BAD_NUMBERS:
            # When the id or page number is too large, negative or no number
            response = case.send(visit, value)
            # Then the answer says so (or, signed out, asks to sign in); never a server error
            assert response.status_code in allowed, (case.what, signed_in, value, response.status_code)


def test_w10_no_route_matches_an_id_the_database_cannot_hold(settings: Settings) -> None:
    """Path ids use the ``id`` convertor, never Starlette's unbounded ``int``."""
    routes = [route for route in create_app(settings).routes if isinstance(route, Route)]
    kinds = {route.path: {type(convertor) for convertor in route.param_convertors.values()} for route in routes}
    assert not [path for path, convertors in kinds.items() if IntegerConvertor in convertors]
    ids = [path for path, convertors in kinds.items() if IdConvertor in convertors]
    assert "/users/{username}/statuses/{post_id:id}" in ids and "/api/generations/{id:id}" in ids


@pytest.mark.parametrize(
    "text", ["1", "9", "10", "99", "100", str(MAX_ID), str(MAX_ID - 1), str(MAX_ID + 1), "9" * 19, "1" + "0" * 18,
             "9" * 18, "0", "01", "-1", "", "²", "1" + "0" * 19, "9223372036854775799", "9223372036854775810"],
)  # fmt: skip
def test_w10_the_id_convertor_matches_exactly_the_ids_parse_id_accepts(text: str) -> None:
    matches = IdConvertor.pattern.fullmatch(text) is not None
    assert matches == (parse_id(text) is not None and not text.startswith("0")), text
    assert matches == (text.isascii() and text.isdigit() and not text.startswith("0") and 0 < int(text) <= MAX_ID)

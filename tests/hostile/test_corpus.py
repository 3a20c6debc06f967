"""A corpus of hostile input, run against the inbox, WebFinger, the fetcher, media and uploads.

Each case gets a clear 4xx (or, where the protocol wants it, a 202 that stores nothing) and leaves no
row behind. Private-range targets are checked without traffic (``is_private_address``); targets that are
actually dialled are loopback only, so a guard that failed would still send nothing off this machine.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select
from starlette.testclient import TestClient

from activitypub.errors import ActivityPubError
from activitypub.fetch import is_private_address
from activitypub.keys import load_private_key
from activitypub.signatures import sign_request
from fediverse.core.errors import ReverieError
from fediverse.social import actions
from fediverse.web.app import create_app
from storage.models import Account, Actor, InboxItem, Media, Post
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.federation.conftest import drain
from tests.fediverse.test_imaging import png_declaring
from tests.fediverse.web.conftest import BROWSER, PASSWORD, sign_in
from tests.hostile.conftest import count_rows
from tests.peers import AS2, FakePeer, PeerActor, running_peer

INBOX = TEST_BASE_URL + "/inbox"


def _signed(peer: FakePeer, actor: PeerActor, body: bytes, **overrides: str) -> dict[str, str]:
    return {**peer.signed_headers(actor, INBOX, body), **overrides}


def _note_create(peer: FakePeer, actor: PeerActor, *, note_host: str | None = None, content: str = "hi") -> bytes:
    host = note_host or peer.base_url
    note = {
        "id": f"{host}/notes/1",
        "type": "Note",
        "attributedTo": actor.id,
        "to": ["https://www.w3.org/ns/activitystreams#Public", f"{TEST_BASE_URL}/users/ana"],
        "content": content,
        "tag": [{"type": "Mention", "href": f"{TEST_BASE_URL}/users/ana"}],
    }
    return json.dumps(
        {"id": f"{peer.base_url}/creates/1", "type": "Create", "actor": actor.id, "object": note}
    ).encode()


def _inbox_cases(peer: FakePeer, ben: PeerActor, zoe: PeerActor) -> list[tuple[str, bytes, dict[str, str], int]]:
    """(what, body sent, headers, expected status) for each hostile inbox request."""
    like = json.dumps({"id": f"{peer.base_url}/likes/1", "type": "Like", "actor": ben.id, "object": INBOX}).encode()
    not_bens = json.dumps({"id": f"{peer.base_url}/l/9", "type": "Like", "actor": zoe.id, "object": INBOX}).encode()
    long_ago = datetime(2023, 11, 14, tzinfo=UTC)  # far outside the window
    stale = {"Content-Type": AS2}
    stale |= sign_request("POST", INBOX, stale, like, key_id=ben.key_id,
                          private_key=load_private_key(ben.keys.private_pem), now=long_ago)  # fmt: skip
    signed = _signed(peer, ben, like)
    forged = {**signed, "Signature": signed["Signature"].replace('signature="', 'signature="AAAA')}

    def signed_body(body: bytes, expected: int, what: str) -> tuple[str, bytes, dict[str, str], int]:
        return what, body, _signed(peer, ben, body), expected

    return [
        signed_body(b'{"id": "x", ', 400, "malformed JSON"),
        signed_body(b"[" * 100_000 + b"]" * 100_000, 400, "deeply nested JSON"),
        signed_body(b"[1, 2, 3]", 400, "a JSON array"),
        signed_body(json.dumps({"type": "Like", "actor": ben.id}).encode(), 400, "no id"),
        signed_body(
            json.dumps({"id": "javascript:x", "type": "Like", "actor": ben.id}).encode(), 400, "an id that is no URL"
        ),
        ("wrong content type", like, _signed(peer, ben, like, **{"Content-Type": "text/plain"}), 415),
        ("no signature", like, {"Content-Type": AS2}, 401),
        ("a forged signature", like, forged, 401),
        ("a body changed after signing", like.replace(b"likes/1", b"likes/2"), signed, 401),
        ("a stale date", like, stale, 401),
        ("signed by someone else than the actor", not_bens, _signed(peer, ben, not_bens), 401),
    ]


def test_hostile_inbox_requests_get_their_4xx_and_store_nothing(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    ben, zoe = peer.add_actor("ben", 0), peer.add_actor("zoe", 1)
    for what, body, headers, expected in _inbox_cases(peer, ben, zoe):
        response = client.post("/inbox", content=body, headers=headers)
        assert response.status_code == expected, f"{what}: {response.status_code} {response.text[:200]}"
        assert "error" in response.json(), what
    assert count_rows(client, InboxItem) == 0


def test_oversized_bodies_are_refused_before_they_are_read(client: TestClient, peer: FakePeer) -> None:
    ben = peer.add_actor("ben")
    huge = b'{"id": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    assert client.post("/inbox", content=huge, headers=_signed(peer, ben, huge)).status_code == 413

    def chunks() -> Any:  # no Content-Length: the cap applies while streaming
        for _ in range(20):
            yield b" " * 100_000

    streamed = client.post("/inbox", content=chunks(), headers={"Content-Type": AS2})
    assert streamed.status_code == 413
    assert count_rows(client, InboxItem) == 0


def test_objects_claiming_another_origin_and_hostile_html(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    ben = peer.add_actor("ben", summary="<p>hi</p><script>alert(1)</script>")
    with running_peer() as elsewhere:
        # A Note that claims to live on another server is fetched from there, which does not know it.
        forged = _note_create(peer, ben, note_host=elsewhere.base_url)
        assert client.post("/inbox", content=forged, headers=_signed(peer, ben, forged)).status_code == 202
        drain(client)
        assert count_rows(client, Post) == 0
    # Script-bearing HTML in a post and a profile is stored only as its harmless remains.
    hostile = _note_create(peer, ben, content="<p>hello<script>alert(1)</script><img src=x onerror=alert(1)></p>")
    hostile = hostile.replace(b"creates/1", b"creates/2")
    assert client.post("/inbox", content=hostile, headers=_signed(peer, ben, hostile)).status_code == 202
    drain(client)

    async def contents() -> tuple[str, str]:
        async with services_of(client).db.session() as session:
            post_html = await session.scalar(select(Post.content_html))
            bio = await session.scalar(select(Actor.summary_html).where(Actor.ap_id == ben.id))
        return str(post_html), str(bio)

    post_html, bio = run_in_app(client, contents)
    for markup in (post_html, bio):
        assert "<script" not in markup and "onerror" not in markup and "alert(1)" not in markup.replace("&", "")
    assert "hello" in post_html


@pytest.mark.parametrize(
    "resource",
    [
        "acct:../../etc/passwd@127.0.0.1:8765",
        "acct:ana@127.0.0.1:8765/../../",
        "acct:" + "a" * 10_000 + "@127.0.0.1:8765",
        "acct:ana\x00@127.0.0.1:8765",
        "https://evil.example/users/ana",
        "acct:ana@evil.example",
        "file:///etc/passwd",
    ],
)
def test_hostile_webfinger_resources_are_refused(client: TestClient, resource: str) -> None:
    response = client.get("/.well-known/webfinger", params={"resource": resource})
    assert response.status_code in (400, 404)
    assert "error" in response.json()


@pytest.mark.parametrize(
    "path",
    [
        "/media/../../etc/passwd",
        "/media/..%2F..%2F..%2Fetc%2Fpasswd",
        "/media/ab/cd/not-a-digest.jpg",
        "/media/" + "0" * 64 + ".jpg",
        "/media/ab/cd/" + "a" * 64 + ".exe",
        "/media/%00",
    ],
)
def test_media_paths_cannot_escape_the_store(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert b"root:" not in response.content


def _jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "mime"),
    [
        ("a decompression bomb", png_declaring(60_000, 60_000), "image/png"),
        ("a truncated JPEG", _jpeg(640, 480)[:2000], "image/jpeg"),
        ("absurd dimensions", _jpeg(20_000, 2), "image/jpeg"),
        ("not an image", b"#!/bin/sh\nrm -rf /\n", "image/png"),
        (
            "an SVG with a script",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
        ),
    ],
)
def test_hostile_uploads_are_refused_and_leave_nothing(
    client: TestClient, make_user: Callable[..., Account], name: str, data: bytes, mime: str
) -> None:
    make_user("ana", password=PASSWORD)
    csrf = sign_in(client, "ana")
    response = client.post(
        "/api/media",
        files={"file": ("upload", data, mime)},
        headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
    )
    assert 400 <= response.status_code < 500, f"{name}: {response.status_code}"
    assert response.json()["error"]
    assert count_rows(client, Media) == 0
    assert not list(services_of(client).settings.media_dir.rglob("*.*"))


def test_forms_without_a_csrf_token_change_nothing(client: TestClient, make_user: Callable[..., Account]) -> None:
    make_user("ana", password=PASSWORD)
    sign_in(client, "ana")
    refused = client.post("/compose/text", data={"caption": "forged"}, headers=BROWSER, follow_redirects=False)
    assert refused.status_code == 403
    assert count_rows(client, Post) == 0


SPECIAL_ADDRESSES = [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "198.18.0.1",
    "224.0.0.1", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "fd00::1", "fe80::1", "64:ff9b::a00:1",
]  # fmt: skip


@pytest.mark.parametrize("address", SPECIAL_ADDRESSES)
def test_private_and_special_addresses_are_recognised_without_contacting_them(address: str) -> None:
    assert is_private_address(address)


@pytest.mark.parametrize(
    "handle", ["@ana@127.0.0.1:9", "@ana@localhost:9", "@ana@[::1]:9", "@ana@[::ffff:127.0.0.1]:9"]
)
def test_lookups_of_loopback_targets_are_refused_by_default(
    make_settings: Callable[..., Any], database_url: str, handle: str
) -> None:
    with TestClient(create_app(make_settings(database_url)), base_url=TEST_BASE_URL) as client:
        services = services_of(client)
        with pytest.raises((ActivityPubError, ReverieError)):
            run_in_app(client, actions.find_actor, services, handle)
        assert count_rows(client, Actor) == 1  # only the instance actor


def test_a_webfinger_answer_pointing_at_someone_elses_actor_is_not_believed(client: TestClient, peer: FakePeer) -> None:
    with running_peer() as elsewhere:
        zoe = elsewhere.add_actor("zoe")
        # The first server claims that its "bob" is zoe, and zoe's own server names someone else as zoe.
        peer.webfinger_points["bob"] = zoe.id
        elsewhere.webfinger_points["zoe"] = f"{elsewhere.base_url}/users/somebody-else"
        services = services_of(client)
        with pytest.raises(ActivityPubError):
            run_in_app(client, actions.find_actor, services, f"@bob@{peer.host}")
        # When zoe's server does vouch for her, the answer resolves to zoe under her own address.
        elsewhere.webfinger_points.clear()
        found = run_in_app(client, actions.find_actor, services, f"@bob@{peer.host}")
        assert (found.ap_id, found.username, found.domain) == (zoe.id, "zoe", elsewhere.host)

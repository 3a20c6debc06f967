"""WebFinger: what we serve (Mastodon's shape) and how strictly we read what others serve."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from activitypub import errors
from activitypub.webfinger import (
    AccountResource,
    UrlResource,
    build_host_meta,
    build_jrd,
    lookup_webfinger,
    parse_resource,
)

PUBLIC_IP = "93.184.216.34"
ACTOR = "https://remote.example/users/alice"
JRD = {
    "subject": "acct:alice@remote.example",
    "links": [
        {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": "https://remote.example/@alice"},
        {"rel": "self", "type": "application/activity+json", "href": ACTOR},
    ],
}


def test_build_jrd_matches_mastodons_shape() -> None:
    assert build_jrd(
        username="alice",
        domain="img.example",
        actor_id="https://img.example/users/alice",
        profile_url="https://img.example/@alice",
        subscribe_template="https://img.example/authorize_interaction?uri={uri}",
    ) == {
        "subject": "acct:alice@img.example",
        "aliases": ["https://img.example/@alice", "https://img.example/users/alice"],
        "links": [
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": "https://img.example/@alice"},
            {"rel": "self", "type": "application/activity+json", "href": "https://img.example/users/alice"},
            {
                "rel": "http://ostatus.org/schema/1.0/subscribe",
                "template": "https://img.example/authorize_interaction?uri={uri}",
            },
        ],
    }


def test_host_meta_is_xrd_with_an_lrdd_template() -> None:
    root = ElementTree.fromstring(build_host_meta("https://img.example/.well-known/webfinger"))
    (link,) = root.iter("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link.get("rel") == "lrdd"
    assert link.get("template") == "https://img.example/.well-known/webfinger?resource={uri}"


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("acct:alice@img.example", AccountResource("alice")),
        ("alice@img.example", AccountResource("alice")),
        ("@alice@img.example", AccountResource("alice")),
        ("acct:alice@IMG.example", AccountResource("alice")),
        ("https://img.example/users/alice", UrlResource("https://img.example/users/alice")),
    ],
)
def test_parse_resource(resource: str, expected: object) -> None:
    assert parse_resource(resource, "img.example") == expected


@pytest.mark.parametrize("resource", ["acct:alice@other.example", "https://other.example/users/alice"])
def test_foreign_resources(resource: str) -> None:
    with pytest.raises(errors.ForeignResourceError):
        parse_resource(resource, "img.example")


@pytest.mark.parametrize("resource", ["", "acct:", "alice", "acct:@img.example", "a b@img.example", "https://", "x@y@"])
def test_malformed_resources(resource: str) -> None:
    with pytest.raises(errors.MalformedResourceError):
        parse_resource(resource, "img.example")


def lookup(
    handle: str,
    handler: Callable[[httpx.Request], httpx.Response],
    table: dict[str, Sequence[str]] | None = None,
) -> Any:
    async def resolve(host: str, port: int) -> Sequence[str]:
        return (table or {"remote.example": [PUBLIC_IP]})[host]

    async def go() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await lookup_webfinger(client, handle, resolver=resolve)

    return asyncio.run(go())


def jrd(document: dict[str, Any], content_type: str = "application/jrd+json", status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=document, headers={"Content-Type": content_type})


@pytest.mark.parametrize("handle", ["alice@remote.example", "@alice@remote.example", "acct:alice@remote.example"])
def test_lookup(handle: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return jrd(JRD)

    result = lookup(handle, handler)
    assert (result.actor_id, result.subject) == (ACTOR, "acct:alice@remote.example")
    (request,) = seen
    assert request.url.path == "/.well-known/webfinger"
    assert request.url.params["resource"] == "acct:alice@remote.example"
    assert request.headers["host"] == "remote.example"
    assert request.url.host == PUBLIC_IP


def test_plain_json_with_charset_is_accepted() -> None:
    assert lookup("alice@remote.example", lambda r: jrd(JRD, "application/json; charset=utf-8")).actor_id == ACTOR


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (jrd(JRD, "text/html"), errors.ContentTypeError),
        (jrd({**JRD, "subject": "acct:mallory@remote.example"}), errors.WebFingerError),
        (jrd({**JRD, "subject": "acct:Alice@remote.example"}), errors.WebFingerError),
        (jrd({**JRD, "subject": ""}), errors.WebFingerError),
        (jrd({**JRD, "links": JRD["links"][:1]}), errors.WebFingerError),
        (jrd({**JRD, "links": [{"rel": "self", "type": "text/html", "href": ACTOR}]}), errors.WebFingerError),
        (
            jrd({**JRD, "links": [{"rel": "self", "type": "application/activity+json", "href": "ftp://x"}]}),
            errors.WebFingerError,
        ),
        (httpx.Response(200, content=b"[", headers={"Content-Type": "application/jrd+json"}), errors.WebFingerError),
        (httpx.Response(410), errors.GoneError),
    ],
)
def test_untrustworthy_answers(response: httpx.Response, error: type[Exception]) -> None:
    with pytest.raises(error):
        lookup("alice@remote.example", lambda request: response)


def test_ld_json_self_link_is_accepted() -> None:
    link = {
        "rel": "self",
        "type": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
        "href": ACTOR,
    }
    assert lookup("alice@remote.example", lambda r: jrd({**JRD, "links": [link]})).actor_id == ACTOR


HOST_META = (
    b'<?xml version="1.0"?><XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">'
    b'<Link rel="lrdd" template="https://remote.example/wf?q={uri}"/></XRD>'
)


def test_host_meta_fallback_after_404() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        if request.url.path == "/.well-known/webfinger":
            return httpx.Response(404)
        if request.url.path == "/.well-known/host-meta":
            return httpx.Response(200, content=HOST_META, headers={"Content-Type": "application/xrd+xml"})
        return jrd(JRD)

    assert lookup("alice@remote.example", handler).actor_id == ACTOR
    assert paths[1:] == ["/.well-known/host-meta", "/wf?q=acct%3Aalice%40remote.example"]


@pytest.mark.parametrize(
    "host_meta",
    [
        httpx.Response(404),
        httpx.Response(200, content=b"<XRD/>", headers={"Content-Type": "text/html"}),
        httpx.Response(
            200,
            content=b'<!DOCTYPE x [<!ENTITY a "aaaa">]><XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0"/>',
            headers={"Content-Type": "application/xrd+xml"},
        ),
        httpx.Response(200, content=b"<XRD", headers={"Content-Type": "application/xrd+xml"}),
    ],
)
def test_failed_fallback(host_meta: httpx.Response) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return host_meta if request.url.path == "/.well-known/host-meta" else httpx.Response(500)

    with pytest.raises(errors.WebFingerError):
        lookup("alice@remote.example", handler)


def test_lookup_refuses_private_hosts() -> None:
    with pytest.raises(errors.UnsafeAddressError):
        lookup("alice@remote.example", lambda r: jrd(JRD), {"remote.example": ["192.168.0.10"]})


def test_malformed_handle() -> None:
    with pytest.raises(errors.WebFingerError):
        lookup("not a handle", lambda r: jrd(JRD))

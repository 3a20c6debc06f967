"""Safe fetches: what a hostile or broken peer can make us request, and what we accept back.

Hostnames resolve through a fake resolver (no real DNS); the allow_private case runs against a
real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from activitypub import errors
from activitypub.fetch import fetch_object, is_activitystreams_content_type, is_private_address
from activitypub.signatures import HttpSignatureAuth, verify_request
from activitypub.vocab import FETCH_ACCEPT
from tests.activitypub.conftest import KEY_ID, FakeKeyResolver

PUBLIC_IP = "93.184.216.34"
AS2 = "application/activity+json"

Handler = Callable[[httpx.Request], httpx.Response]


def fake_resolver(table: dict[str, Sequence[str]]) -> Callable[[str, int], Any]:
    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]

    return resolve


def as2(document: dict[str, Any], content_type: str = AS2, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=document, headers={"Content-Type": content_type})


def run_fetch(
    url: str,
    handler: Handler,
    table: dict[str, Sequence[str]] | None = None,
    *,
    signer: httpx.Auth | None = None,
    **options: Any,
) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await fetch_object(
                client,
                url,
                signer=signer,
                allow_private=options.pop("allow_private", False),
                resolver=fake_resolver(table or {"remote.example": [PUBLIC_IP]}),
                **options,
            )

    return asyncio.run(go())


def by_host_and_path(routes: dict[str, Callable[[], httpx.Response]], seen: list[httpx.Request]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        key = request.headers["host"] + request.url.raw_path.decode()
        if key not in routes:
            return httpx.Response(404)
        return routes[key]()

    return handler


def test_fetch_pins_the_vetted_address_and_signs(rsa_key: rsa.RSAPrivateKey) -> None:
    seen: list[httpx.Request] = []
    doc = {"id": "https://remote.example/users/bob", "type": "Person"}
    handler = by_host_and_path({"remote.example/users/bob": lambda: as2(doc)}, seen)
    signer = HttpSignatureAuth(key_id=KEY_ID, private_key=rsa_key)

    assert run_fetch("https://remote.example/users/bob", handler, signer=signer) == doc

    (request,) = seen
    # Then the connection goes to the address we checked, named by Host and SNI
    assert request.url.host == PUBLIC_IP
    assert request.headers["host"] == "remote.example"
    assert request.extensions["sni_hostname"] == "remote.example"
    assert request.headers["connection"] == "close"
    assert request.headers["accept"] == FETCH_ACCEPT
    # and the signature is valid for the hostname, as the peer will check it
    verified = asyncio.run(
        verify_request(
            "GET", "/users/bob", dict(request.headers), b"", resolve_key=FakeKeyResolver(cached=rsa_key.public_key())
        )
    )
    assert verified.key_id == KEY_ID


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.5",
        "127.0.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "192.168.1.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd12:3456::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "64:ff9b::a00:1",
        "2002:7f00:1::1",
        "2001:db8::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(errors.UnsafeAddressError):
        run_fetch("https://remote.example/users/bob", by_host_and_path({}, seen), {"remote.example": [address]})
    assert seen == []


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(errors.UnsafeAddressError):
        run_fetch("https://remote.example/x", by_host_and_path({}, seen), {"remote.example": [PUBLIC_IP, "10.1.2.3"]})
    assert seen == []


def test_public_addresses_pass() -> None:
    assert not is_private_address("8.8.8.8")
    assert not is_private_address("2001:4860:4860::8888")
    assert not is_private_address("::ffff:8.8.8.8")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://remote.example/x", "gopher://remote.example/", "https://u:p@remote.example/x"]
)
def test_only_plain_http_urls_are_fetched(url: str) -> None:
    with pytest.raises(errors.UnsupportedURLError):
        run_fetch(url, by_host_and_path({}, []))


def test_ip_literal_urls_are_checked_too() -> None:
    with pytest.raises(errors.UnsafeAddressError):
        run_fetch("http://127.0.0.1:9/users/bob", by_host_and_path({}, []), {"127.0.0.1": ["127.0.0.1"]})


def test_redirect_to_a_private_address_is_refused() -> None:
    seen: list[httpx.Request] = []
    routes = {"remote.example/a": lambda: httpx.Response(302, headers={"Location": "https://internal.example/admin"})}
    table = {"remote.example": [PUBLIC_IP], "internal.example": ["10.0.0.1"]}
    with pytest.raises(errors.UnsafeAddressError):
        run_fetch("https://remote.example/a", by_host_and_path(routes, seen), table)
    assert [r.headers["host"] for r in seen] == ["remote.example"]


def redirect_chain(length: int) -> dict[str, Callable[[], httpx.Response]]:
    routes: dict[str, Callable[[], httpx.Response]] = {}
    for hop in range(length):
        location = f"/hop{hop + 1}"
        routes[f"remote.example/hop{hop}"] = lambda location=location: httpx.Response(
            301, headers={"Location": location}
        )
    final = f"https://remote.example/hop{length}"
    routes[f"remote.example/hop{length}"] = lambda: as2({"id": final, "type": "Note"})
    return routes


def test_three_redirects_are_followed() -> None:
    seen: list[httpx.Request] = []
    document = run_fetch("https://remote.example/hop0", by_host_and_path(redirect_chain(3), seen))
    assert document["id"] == "https://remote.example/hop3"
    assert len(seen) == 4


def test_a_fourth_redirect_is_refused() -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(errors.TooManyRedirectsError):
        run_fetch("https://remote.example/hop0", by_host_and_path(redirect_chain(4), seen))
    assert len(seen) == 4


def test_https_to_http_downgrade_is_refused() -> None:
    routes = {"remote.example/a": lambda: httpx.Response(302, headers={"Location": "http://remote.example/a"})}
    with pytest.raises(errors.TooManyRedirectsError, match="https to http"):
        run_fetch("https://remote.example/a", by_host_and_path(routes, []))


def test_oversize_body_is_refused_by_declared_length() -> None:
    big = b"x" * (1024 * 1024 + 1)
    routes = {"remote.example/big": lambda: httpx.Response(200, content=big, headers={"Content-Type": AS2})}
    with pytest.raises(errors.ResponseTooLargeError):
        run_fetch("https://remote.example/big", by_host_and_path(routes, []))


def test_oversize_body_is_refused_while_streaming() -> None:
    async def endless() -> AsyncIterator[bytes]:
        for _ in range(1000):  # 64 MiB if nothing stopped it
            yield b"x" * 65536

    routes = {"remote.example/big": lambda: httpx.Response(200, content=endless(), headers={"Content-Type": AS2})}
    with pytest.raises(errors.ResponseTooLargeError):
        run_fetch("https://remote.example/big", by_host_and_path(routes, []))


@pytest.mark.parametrize(
    "content_type", ["text/html", "application/json", "application/ld+json", 'application/ld+json; profile="x"']
)
def test_wrong_content_type_is_refused(content_type: str) -> None:
    doc = {"id": "https://remote.example/n", "type": "Note"}
    routes = {"remote.example/n": lambda: as2(doc, content_type)}
    with pytest.raises(errors.ContentTypeError):
        run_fetch("https://remote.example/n", by_host_and_path(routes, []))


def test_ld_json_with_the_activitystreams_profile_is_accepted() -> None:
    assert is_activitystreams_content_type('application/ld+json; profile="https://www.w3.org/ns/activitystreams"')
    assert is_activitystreams_content_type("application/activity+json; charset=utf-8")


def test_id_elsewhere_is_fetched_again_by_id() -> None:
    # Given a profile URL whose document names its canonical id
    seen: list[httpx.Request] = []
    canonical = {"id": "https://remote.example/users/bob", "type": "Person", "name": "canonical"}
    routes = {
        "remote.example/@bob": lambda: as2({**canonical, "name": "alias"}),
        "remote.example/users/bob": lambda: as2(canonical),
    }
    assert run_fetch("https://remote.example/@bob", by_host_and_path(routes, seen)) == canonical
    assert len(seen) == 2


def test_forged_id_on_another_host_yields_the_origins_document() -> None:
    # evil.example claims to serve good.example's note; we take the note from good.example.
    genuine = {"id": "https://good.example/notes/1", "type": "Note", "content": "genuine"}
    routes = {
        "evil.example/x": lambda: as2({**genuine, "content": "forged"}),
        "good.example/notes/1": lambda: as2(genuine),
    }
    table = {"evil.example": [PUBLIC_IP], "good.example": ["93.184.216.35"]}
    assert run_fetch("https://evil.example/x", by_host_and_path(routes, []), table)["content"] == "genuine"


def test_id_that_never_matches_is_refused() -> None:
    routes = {
        "remote.example/a": lambda: as2({"id": "https://remote.example/b"}),
        "remote.example/b": lambda: as2({"id": "https://remote.example/c"}),
    }
    with pytest.raises(errors.IdMismatchError):
        run_fetch("https://remote.example/a", by_host_and_path(routes, []))


def test_missing_id_is_refused() -> None:
    routes = {"remote.example/a": lambda: as2({"type": "Note"})}
    with pytest.raises(errors.IdMismatchError):
        run_fetch("https://remote.example/a", by_host_and_path(routes, []))


def test_gone_and_other_statuses() -> None:
    routes = {
        "remote.example/gone": lambda: httpx.Response(410),
        "remote.example/ok": lambda: as2({"id": 1}, status=203),
    }
    with pytest.raises(errors.GoneError):
        run_fetch("https://remote.example/gone", by_host_and_path(routes, []))
    with pytest.raises(errors.FetchError) as caught:
        run_fetch("https://remote.example/missing", by_host_and_path(routes, []))
    assert caught.value.status == 404 and not isinstance(caught.value, errors.GoneError)
    with pytest.raises(errors.FetchError, match="203"):
        run_fetch("https://remote.example/ok", by_host_and_path(routes, []))


def test_non_json_body_is_a_fetch_error() -> None:
    routes = {"remote.example/a": lambda: httpx.Response(200, content=b"{nope", headers={"Content-Type": AS2})}
    with pytest.raises(errors.FetchError, match="not JSON"):
        run_fetch("https://remote.example/a", by_host_and_path(routes, []))


def test_network_errors_and_timeouts_are_fetch_errors() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(errors.FetchError, match="timed out"):
        run_fetch("https://remote.example/a", timeout)
    with pytest.raises(errors.FetchError, match="failed"):
        run_fetch("https://remote.example/a", refused)
    with pytest.raises(errors.FetchError, match="resolve"):
        run_fetch("https://unknown.example/a", refused)


def test_total_deadline_applies() -> None:
    async def stalls(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(stalls)) as client:
            await fetch_object(
                client,
                "https://remote.example/a",
                signer=None,
                allow_private=False,
                resolver=fake_resolver({"remote.example": [PUBLIC_IP]}),
                total_timeout=0.05,
            )

    with pytest.raises(errors.FetchError, match="timed out"):
        asyncio.run(go())


# -- a real server on 127.0.0.1 ------------------------------------------------------------


async def serve_once_per_connection(document: Callable[[int], dict[str, Any]], requests: list[bytes]) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        requests.append(head)
        port = writer.get_extra_info("sockname")[1]
        body = json.dumps(document(port)).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/activity+json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def test_allow_private_reaches_a_local_server(rsa_key: rsa.RSAPrivateKey) -> None:
    requests: list[bytes] = []

    async def go() -> tuple[dict[str, Any], str]:
        server = await serve_once_per_connection(lambda port: {"id": f"http://127.0.0.1:{port}/users/bob"}, requests)
        port = server.sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}/users/bob"
        try:
            async with httpx.AsyncClient() as client:
                with pytest.raises(errors.UnsafeAddressError):
                    await fetch_object(client, url, signer=None, allow_private=False)
                signer = HttpSignatureAuth(key_id=KEY_ID, private_key=rsa_key, clock=lambda: datetime.now(UTC))
                return await fetch_object(client, url, signer=signer, allow_private=True), url
        finally:
            server.close()
            await server.wait_closed()

    document, url = asyncio.run(go())
    assert document == {"id": url}
    (head,) = requests  # the refused attempt never connected
    assert head.startswith(b"GET /users/bob HTTP/1.1")
    assert b"\r\nsignature: keyid=" in head.lower()

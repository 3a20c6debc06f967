"""Safe, signed GETs of remote documents, and the address guard every outbound request goes through.

What a remote document can make us do is the SSRF surface of a federated server: every URL we
contact comes from someone else's JSON. Each request therefore:

* accepts only absolute http(s) URLs without credentials;
* resolves the hostname itself and refuses when ANY resolved address is private, loopback,
  link-local, multicast, reserved, CGNAT, documentation, NAT64/6to4/Teredo, ULA or an
  IPv4-mapped form of these (Mastodon's PrivateAddressCheck list, plus everything Python does
  not call globally routable);
* connects to the address it vetted, not to whatever a second DNS answer says (anti DNS
  rebinding): the request goes to ``scheme://ADDRESS:port/...`` with the real ``Host`` header and
  ``sni_hostname`` extension, so TLS still verifies the certificate for the hostname. This keeps
  the package free of httpcore internals and works with any transport, including
  ``httpx.MockTransport``. Because httpx pools connections by address, an https request carries
  ``Connection: close`` unless the caller says the client serves a single host (the delivery
  pool does): otherwise two hostnames sharing an address (a CDN) could share a TLS connection
  negotiated for the first one;
* follows at most 3 redirects by hand, vetting each hop and refusing https -> http downgrades;
* caps time (connect 5 s, read 10 s, 30 s in all, Mastodon's app/lib/request.rb) and body size
  (1 MiB while streaming, after content decoding).

``allow_private=True`` lifts only the address rule, for loopback development and tests.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from activitypub.errors import (
    ContentTypeError,
    FetchError,
    GoneError,
    IdMismatchError,
    ResponseTooLargeError,
    TooManyRedirectsError,
    UnsafeAddressError,
    UnsupportedURLError,
)
from activitypub.vocab import AS2_CONTEXT, FETCH_ACCEPT, JsonObject, get_str

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

MAX_BODY_BYTES = 1024 * 1024
MAX_REDIRECTS = 3
TOTAL_TIMEOUT = 30.0
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Mastodon's PrivateAddressCheck::CIDR_LIST (app/lib/private_address_check.rb); anything Python
# does not consider globally routable is refused as well.
BLOCKED_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/32",
        "2001:10::/28",
        "2001:20::/28",
        "2001:db8::/32",
        "2002::/16",
        "3fff::/20",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)


def is_private_address(address: str) -> bool:
    """Whether we refuse to contact ``address`` (an IP literal; a zone id is ignored).

    IPv4-mapped (``::ffff:a.b.c.d``) and IPv4-compatible (``::a.b.c.d``) forms are judged by their
    IPv4 address, as Mastodon does. Unparseable input counts as private.
    """
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif int(ip) >> 32 == 0 and int(ip) > 1:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return not ip.is_global or ip.is_multicast or any(ip in network for network in BLOCKED_NETWORKS)


async def resolve_host(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, through the event loop's resolver (in a thread)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class VettedURL:
    """A URL whose host resolved only to acceptable addresses, and the address we will use."""

    url: httpx.URL
    host: str
    address: str


async def vet_url(url: str | httpx.URL, *, allow_private: bool, resolver: Resolver | None = None) -> VettedURL:
    """Check ``url`` is an http(s) URL whose host resolves only to public addresses.

    Raises ``UnsupportedURLError`` (scheme, credentials, no host), ``FetchError`` (resolution
    failed) or ``UnsafeAddressError`` (any resolved address is private, unless ``allow_private``).
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as error:
        raise UnsupportedURLError("invalid URL", url=str(url)) from error
    text = str(parsed)
    if parsed.scheme not in _DEFAULT_PORTS or not parsed.host:
        raise UnsupportedURLError("only absolute http(s) URLs are fetched", url=text)
    if parsed.userinfo:
        raise UnsupportedURLError("URLs with credentials are not fetched", url=text)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
    try:
        addresses = await (resolver or resolve_host)(host, port)
    except (OSError, UnicodeError) as error:
        raise FetchError("could not resolve host", url=text, detail=f"{host}: {error}") from error
    if not addresses:
        raise FetchError("could not resolve host", url=text)
    if not allow_private:
        refused = [address for address in addresses if is_private_address(address)]
        if refused:
            raise UnsafeAddressError("host resolves to a non-public address", url=text, detail=f"{host}: {refused}")
    return VettedURL(url=parsed, host=host, address=addresses[0])


def build_pinned_request(
    client: httpx.AsyncClient,
    method: str,
    vetted: VettedURL,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    single_host_client: bool = False,
) -> httpx.Request:
    """A request to the vetted address that names the real host in ``Host`` and TLS SNI."""
    pinned = vetted.url.copy_with(host=vetted.address)
    extensions: dict[str, Any] = {}
    request_headers = {"Host": vetted.url.netloc.decode("ascii"), **(headers or {})}
    if vetted.url.scheme == "https":
        extensions["sni_hostname"] = vetted.host
        if not single_host_client:
            request_headers["Connection"] = "close"
    request = client.build_request(
        method, pinned, headers=request_headers, content=content, timeout=timeout, extensions=extensions
    )
    return request


@dataclass(frozen=True)
class SafeResponse:
    """A fully read response: the URL it was finally served from (after redirects)."""

    url: str
    status_code: int
    headers: httpx.Headers
    content: bytes


async def get_safely(
    client: httpx.AsyncClient,
    url: str,
    *,
    accept: str,
    signer: httpx.Auth | None = None,
    allow_private: bool,
    resolver: Resolver | None = None,
    max_bytes: int = MAX_BODY_BYTES,
    max_redirects: int = MAX_REDIRECTS,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    total_timeout: float = TOTAL_TIMEOUT,
) -> SafeResponse:
    """GET ``url`` with the address guard, pinning, manual redirects and caps described above.

    Returns whatever status the final hop answered; the body is read up to ``max_bytes``
    (``ResponseTooLargeError`` beyond). Network failures and timeouts raise ``FetchError``.
    """
    try:
        async with asyncio.timeout(total_timeout):
            return await _follow(
                client, url, accept, signer, allow_private, resolver, max_bytes, max_redirects, timeout
            )
    except TimeoutError as error:
        raise FetchError("request timed out", url=url) from error
    except httpx.TimeoutException as error:
        raise FetchError("request timed out", url=url, detail=repr(error)) from error
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
        raise UnsupportedURLError("invalid URL", url=url, detail=repr(error)) from error
    except httpx.HTTPError as error:
        raise FetchError("request failed", url=url, detail=repr(error)) from error


async def _follow(
    client: httpx.AsyncClient,
    url: str,
    accept: str,
    signer: httpx.Auth | None,
    allow_private: bool,
    resolver: Resolver | None,
    max_bytes: int,
    max_redirects: int,
    timeout: httpx.Timeout,
) -> SafeResponse:
    current = url
    for hop in range(max_redirects + 1):
        vetted = await vet_url(current, allow_private=allow_private, resolver=resolver)
        request = build_pinned_request(client, "GET", vetted, headers={"Accept": accept}, timeout=timeout)
        response = await client.send(request, auth=signer, stream=True, follow_redirects=False)
        try:
            location = response.headers.get("location")
            if response.status_code in _REDIRECT_STATUSES and location:
                target = vetted.url.join(location)
                if vetted.url.scheme == "https" and target.scheme == "http":
                    raise TooManyRedirectsError("refusing a redirect from https to http", url=str(target))
                if hop == max_redirects:
                    raise TooManyRedirectsError("too many redirects", url=url, status=response.status_code)
                current = str(target)
                continue
            content = await _read_capped(response, max_bytes, str(vetted.url))
            return SafeResponse(str(vetted.url), response.status_code, response.headers, content)
        finally:
            await response.aclose()
    raise AssertionError("unreachable")  # pragma: no cover


async def _read_capped(response: httpx.Response, max_bytes: int, url: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLargeError("response too large", url=url, status=response.status_code)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLargeError("response too large", url=url, status=response.status_code)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """A ``Content-Type`` as (lowercase media type, parameters with quotes removed)."""
    media_type, *raw_params = value.split(";")
    params: dict[str, str] = {}
    for raw in raw_params:
        name, sep, param = raw.partition("=")
        if sep:
            params[name.strip().lower()] = param.strip().strip('"')
    return media_type.strip().lower(), params


def is_activitystreams_content_type(value: str) -> bool:
    """``application/activity+json``, or ``application/ld+json`` with the AS2 profile (AP §3.2)."""
    media_type, params = parse_content_type(value)
    if media_type == "application/activity+json":
        return True
    return media_type == "application/ld+json" and AS2_CONTEXT in params.get("profile", "").split()


@dataclass(frozen=True)
class FetchedJson:
    url: str
    document: JsonObject


async def fetch_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    accept: str,
    content_type_ok: Callable[[str], bool],
    signer: httpx.Auth | None = None,
    allow_private: bool,
    resolver: Resolver | None = None,
    max_bytes: int = MAX_BODY_BYTES,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    total_timeout: float = TOTAL_TIMEOUT,
) -> FetchedJson:
    """GET a JSON object safely (see :func:`get_safely`): 200 only, ``GoneError`` on 410,
    ``ContentTypeError`` unless ``content_type_ok`` accepts the ``Content-Type``."""
    response = await get_safely(
        client,
        url,
        accept=accept,
        signer=signer,
        allow_private=allow_private,
        resolver=resolver,
        max_bytes=max_bytes,
        timeout=timeout,
        total_timeout=total_timeout,
    )
    if response.status_code == 410:
        raise GoneError("remote object is gone", url=response.url, status=410)
    if response.status_code != 200:
        raise FetchError(f"remote answered {response.status_code}", url=response.url, status=response.status_code)
    content_type = response.headers.get("content-type", "")
    if not content_type_ok(content_type):
        raise ContentTypeError("unexpected content type", url=response.url, status=200, detail=content_type)
    try:
        document = json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise FetchError("response is not JSON", url=response.url, status=200) from error
    if not isinstance(document, dict):
        raise FetchError("response is not a JSON object", url=response.url, status=200)
    return FetchedJson(response.url, document)


async def fetch_object(
    client: httpx.AsyncClient,
    url: str,
    *,
    signer: httpx.Auth | None,
    allow_private: bool,
    resolver: Resolver | None = None,
    max_bytes: int = MAX_BODY_BYTES,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    total_timeout: float = TOTAL_TIMEOUT,
) -> JsonObject:
    """Fetch an ActivityStreams object (ActivityPub §3.2, §7.1) and check it is authentic.

    The document's ``id`` must equal the URL it was served from. If it names another URL, that
    ``id`` is fetched once more and must then match (Mastodon's ``fetch_resource``); the second
    document is returned. ``signer`` (the instance actor's ``HttpSignatureAuth``) signs every
    hop, as GoToSocial and authorized-fetch Mastodon require.
    """
    options: dict[str, Any] = {
        "accept": FETCH_ACCEPT,
        "content_type_ok": is_activitystreams_content_type,
        "signer": signer,
        "allow_private": allow_private,
        "resolver": resolver,
        "max_bytes": max_bytes,
        "timeout": timeout,
        "total_timeout": total_timeout,
    }
    fetched = await fetch_json(client, url, **options)
    document_id = get_str(fetched.document, "id")
    if document_id == fetched.url:
        return fetched.document
    if not document_id:
        raise IdMismatchError("document has no id", url=fetched.url)
    again = await fetch_json(client, document_id, **options)
    if get_str(again.document, "id") != again.url:
        raise IdMismatchError(
            "document id does not match its URL", url=again.url, detail=f"id {get_str(again.document, 'id')!r}"
        )
    return again.document

"""How the delivery worker sends one signed POST: over aiohttp (the default), or over httpx.

aiohttp is the worker's client because it was measured to be two to four times cheaper per delivery
than per-host httpx clients, and the fan-out target is not reachable with httpx on this machine class
(docs/decisions/0021-delivery-http-client.md, docs/benchmarks.md). It lives here, outside
``activitypub/`` (stdlib, httpx and cryptography only); the protocol rules it applies come from there:
the address guard of ``activitypub.fetch``, Mastodon's signature shape, and the outcome classification
of ``activitypub.delivery``. ``HttpxTransport`` wraps ``activitypub.delivery.deliver_activity`` so the
two can be compared through the same worker (``bench/bench_fanout.py --client httpx``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import ssl
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import cache, partial
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from activitypub.delivery import (
    EXCERPT_BYTES,
    DeliveryClients,
    DeliveryOutcome,
    classify_response,
    deliver_activity,
    parse_retry_after,
)
from activitypub.errors import UnsafeAddressError, UnsupportedURLError
from activitypub.fetch import is_private_address
from activitypub.keys import PrivateKey
from activitypub.signatures import sign_request
from activitypub.vocab import AS2_MEDIA_TYPE

if TYPE_CHECKING:  # aiohttp loads with the first delivery, not at start (docs/decisions/0053)
    import aiohttp

#: How long a vetted DNS answer is reused (aiohttp connects to exactly the addresses we vetted).
DNS_CACHE_SECONDS = 60
#: Per-host httpx clients kept open (``HttpxTransport``).
MAX_HTTPX_HOSTS = 1024


class DeliveryTransport(Protocol):
    async def send(self, inbox_url: str, body: bytes, *, key_id: str, private_key: PrivateKey) -> DeliveryOutcome:
        """POST ``body`` to ``inbox_url`` signed with the key, and classify the answer (never raises for a
        remote failure)."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class TransportOptions:
    user_agent: str
    allow_private: bool
    #: Connections open at once, in all and to one host.
    max_connections: int
    per_host: int
    #: Where RSA signatures are computed (they release the GIL); ``None`` signs on the event loop.
    signing_executor: Executor | None = None
    #: Seconds one POST may take in all; connecting gets at most 5 of them and each read 10.
    total_timeout: float = 30.0


TransportFactory = Callable[[TransportOptions], DeliveryTransport]


class _TrustOnFirstUse(ssl.SSLContext):
    """httpx's default client context, except that the CA bundle (certifi's, or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR``, as httpx reads them) loads when the first TLS connection is wrapped: ~1.4 MiB of
    certificates that a server with no TLS peer yet has no use for (decision 0053). asyncio, uvloop and
    anyio all wrap through ``wrap_bio``."""

    _trusted = False
    _loading = threading.Lock()

    def _trust(self) -> None:
        with self._loading:
            if self._trusted:
                return
            if cafile := os.environ.get("SSL_CERT_FILE"):
                self.load_verify_locations(cafile=cafile)
            elif capath := os.environ.get("SSL_CERT_DIR"):
                self.load_verify_locations(capath=capath)
            else:
                import certifi

                self.load_verify_locations(cafile=certifi.where())
            self._trusted = True

    def wrap_bio(self, *arguments: Any, **options: Any) -> ssl.SSLObject:
        if not self._trusted:
            self._trust()
        return super().wrap_bio(*arguments, **options)

    def wrap_socket(self, *arguments: Any, **options: Any) -> ssl.SSLSocket:
        if not self._trusted:
            self._trust()
        return super().wrap_socket(*arguments, **options)


@cache
def client_tls() -> ssl.SSLContext:
    """The TLS settings of every outbound client in the process, built once (each app opens two clients);
    its CA bundle loads on the first TLS connection (``_TrustOnFirstUse``)."""
    return _TrustOnFirstUse(ssl.PROTOCOL_TLS_CLIENT)


def inbox_host(url: str, *, allow_private: bool) -> str:
    """The ``Host`` header for ``url`` (what is signed), refusing what ``activitypub.fetch`` refuses
    before any lookup: other schemes, credentials, and private IP literals (aiohttp does not resolve
    those, so the resolver cannot see them)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as error:
        raise UnsupportedURLError("invalid URL", url=url) from error
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UnsupportedURLError("only absolute http(s) URLs are delivered to", url=url)
    if parsed.userinfo:
        raise UnsupportedURLError("URLs with credentials are not delivered to", url=url)
    if not allow_private and _is_ip_literal(parsed.host) and is_private_address(parsed.host):
        raise UnsafeAddressError("inbox is on a non-public address", url=url, detail=parsed.host)
    return parsed.netloc.decode("ascii")


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class AiohttpTransport:
    """One ``aiohttp.ClientSession`` for the worker's lifetime: keep-alive connections pooled per host
    (at most ``per_host`` each, ``max_connections`` in all), vetted DNS answers cached for a minute."""

    def __init__(self, options: TransportOptions, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.options = options
        self._connector_options: dict[str, Any] = {
            "limit": options.max_connections,
            "limit_per_host": options.per_host,
            "ttl_dns_cache": DNS_CACHE_SECONDS,
            "ssl": ssl_context or client_tls(),
        }
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        """The session, created on first use (aiohttp wants a running loop; it is imported here, so an
        instance that has not delivered yet does not hold it)."""
        if self._session is None:
            import aiohttp

            from fediverse.federation.vetting_resolver import VettingResolver

            connector = aiohttp.TCPConnector(
                resolver=VettingResolver(allow_private=self.options.allow_private), **self._connector_options
            )
            total = self.options.total_timeout
            self._session = aiohttp.ClientSession(
                connector=connector,
                # Mastodon's limits (app/lib/request.rb): connect 5 s, read 10 s, 30 s in all.
                timeout=aiohttp.ClientTimeout(total=total, connect=min(5.0, total), sock_read=min(10.0, total)),
                auto_decompress=False,  # an error body is only excerpted; never inflate what a peer sends
                skip_auto_headers=("Accept-Encoding",),
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def send(self, inbox_url: str, body: bytes, *, key_id: str, private_key: PrivateKey) -> DeliveryOutcome:
        try:
            host = inbox_host(inbox_url, allow_private=self.options.allow_private)
        except (UnsupportedURLError, UnsafeAddressError) as error:
            return DeliveryOutcome("drop", None, str(error))
        headers = {"Host": host, "Content-Type": AS2_MEDIA_TYPE, "User-Agent": self.options.user_agent}
        sign = partial(sign_request, "POST", inbox_url, headers, body, key_id=key_id, private_key=private_key)
        headers |= await _run(sign, self.options.signing_executor)
        session = self._open()
        import aiohttp  # already loaded by _open: for the exceptions below

        try:
            async with session.post(inbox_url, data=body, headers=headers, allow_redirects=False) as response:
                excerpt = await _read_excerpt(response)
                status, retry_after = response.status, response.headers.get("Retry-After")
        except UnsafeAddressError as error:
            return DeliveryOutcome("drop", None, str(error))
        except (TimeoutError, aiohttp.ServerTimeoutError):
            return DeliveryOutcome("retry", None, "timed out")
        except (aiohttp.ClientError, OSError) as error:
            return DeliveryOutcome("retry", None, f"network error: {type(error).__name__}")
        return classify_response(status, retry_after=parse_retry_after(retry_after), body_excerpt=excerpt)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


async def _read_excerpt(response: aiohttp.ClientResponse) -> str:
    """Up to ``EXCERPT_BYTES`` of an error answer; a success's short body is read so the connection
    can be reused."""
    collected = b""
    while len(collected) < EXCERPT_BYTES:
        chunk = await response.content.read(EXCERPT_BYTES - len(collected))
        if not chunk:
            break
        collected += chunk
    if 200 <= response.status < 300:
        return ""
    return collected.decode("utf-8", errors="replace")


async def _run(function: Callable[[], dict[str, str]], executor: Executor | None) -> dict[str, str]:
    if executor is None:
        return function()
    return await asyncio.get_running_loop().run_in_executor(executor, function)


class HttpxTransport:
    """The protocol package's own sender: per-host httpx clients (``activitypub.delivery``), an LRU of
    at most ``MAX_HTTPX_HOSTS``; ``max_connections`` is left to the worker's own limit."""

    def __init__(self, options: TransportOptions) -> None:
        self.clients = DeliveryClients(
            max_hosts=MAX_HTTPX_HOSTS, max_connections_per_host=options.per_host, verify=client_tls()
        )
        total = options.total_timeout
        self._deliver: Callable[..., Awaitable[DeliveryOutcome]] = partial(
            deliver_activity,
            user_agent=options.user_agent,
            allow_private=options.allow_private,
            signing_executor=options.signing_executor,
            timeout=httpx.Timeout(min(10.0, total), connect=min(5.0, total)),
            total_timeout=total,
        )

    async def send(self, inbox_url: str, body: bytes, *, key_id: str, private_key: PrivateKey) -> DeliveryOutcome:
        async with self.clients.lease(inbox_url) as client:
            return await self._deliver(client, inbox_url, body, key_id=key_id, private_key=private_key)

    async def aclose(self) -> None:
        await self.clients.aclose()

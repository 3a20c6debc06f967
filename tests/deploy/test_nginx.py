"""The documented nginx configuration (deploy/nginx/reverie.conf, docs/deploy.md) run for real.

Two Reverie instances, each a real ``reverie serve`` process known as ``https://127.0.0.1:PORT`` and
``https://127.0.0.2:PORT``, each behind its own Debian nginx terminating TLS with a certificate from a
throwaway CA that the Reverie processes trust (``SSL_CERT_FILE``). They follow each other and deliver a
post, so signatures, ``Host`` and the scheme survive the proxy; then, through nginx: client addresses
reach the sign-in throttle and the request log (a forged ``X-Forwarded-For`` does not), a picture just
under the upload limit goes through and a larger body is refused by nginx, generation progress streams
as server-sent events, the streaming API's WebSocket is upgraded, and plain http is redirected to https.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.deploy.harness import (
    Instance,
    LocalCA,
    Site,
    client_addresses_reach_the_rate_limit,
    create_user,
    find_program,
    follow_each_other_and_deliver_a_post,
    free_port,
    large_uploads_and_events_pass,
    running_instance,
    running_nginx,
    streaming_passes,
)

NGINX = find_program("nginx")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx; CI installs it)"),
]


@pytest.fixture
def deployment(tmp_path: Path, database_factory: Callable[[], str]) -> Iterator[tuple[Instance, Instance, Path]]:
    """Instances A and B behind their own nginx; also A's nginx folder (its logs)."""
    assert NGINX is not None
    ca = LocalCA.create(tmp_path / "ca")
    sites = []
    for address in ("127.0.0.1", "127.0.0.2"):
        certificate, key = ca.issue(address)
        sites.append(Site(address, free_port(address), free_port(), certificate, key))
    with ExitStack() as stack:
        proxies = [
            stack.enter_context(running_nginx(NGINX, site, tmp_path / f"nginx-{site.address}")) for site in sites
        ]
        a = stack.enter_context(running_instance(tmp_path, "a", database_factory(), sites[0], ca))
        b = stack.enter_context(running_instance(tmp_path, "b", database_factory(), sites[1], ca))
        create_user(a, "ana")
        create_user(b, "bob", password=False)
        yield a, b, proxies[0]


def test_two_instances_behind_nginx_federate_and_serve_browsers(deployment: tuple[Instance, Instance, Path]) -> None:
    a, b, a_nginx = deployment
    follow_each_other_and_deliver_a_post(a, b)
    # The deliveries went through nginx (its access log), each accepted by the inbox behind it
    assert " 202 " in next(line for line in (a_nginx / "access.log").read_text().splitlines() if "inbox" in line)

    client_addresses_reach_the_rate_limit(a)
    large_uploads_and_events_pass(a, proxy_refuses_large_bodies=True)
    streaming_passes(a)

    # Plain http on port 80 (here another port) is sent to https
    http_port = (a_nginx / "http_port").read_text()
    redirect = httpx.get(f"http://{a.site.address}:{http_port}/users/ana", timeout=10)
    assert redirect.status_code == 301
    assert redirect.headers["location"] == f"https://{a.site.address}/users/ana"

"""The documented Caddy configuration (deploy/caddy/Caddyfile, docs/deploy.md) run for real.

Instance A is behind Debian's Caddy and instance B behind nginx (deploy/nginx/reverie.conf), each with a
certificate from a throwaway CA that the Reverie processes trust: they follow each other and deliver a
post across the two proxies; then, through Caddy: client addresses reach the sign-in throttle and the
request log (a forged ``X-Forwarded-For`` does not), a picture just under the upload limit goes through
and a larger body is refused (by Reverie: Caddy passes a body with a declared length on), and generation
progress streams as server-sent events.

The Caddyfile runs with three options a test needs before it (no admin endpoint, no port 80, no trust
store changes) and the test's certificate in place of ACME: Caddy's automatic certificates need a public
domain, which a test on loopback does not have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

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
    running_caddy,
    running_instance,
    running_nginx,
    streaming_passes,
)

CADDY = find_program("caddy")
NGINX = find_program("nginx")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        CADDY is None or NGINX is None,
        reason="caddy and nginx are not both installed (apt-get install caddy nginx; CI installs them)",
    ),
]


@pytest.fixture
def deployment(tmp_path: Path, database_factory: Callable[[], str]) -> Iterator[tuple[Instance, Instance]]:
    """Instance A behind Caddy, B behind nginx."""
    assert CADDY is not None and NGINX is not None
    ca = LocalCA.create(tmp_path / "ca")
    sites = []
    for address in ("127.0.0.1", "127.0.0.2"):
        certificate, key = ca.issue(address)
        sites.append(Site(address, free_port(address), free_port(), certificate, key))
    with ExitStack() as stack:
        stack.enter_context(running_caddy(CADDY, sites[0], tmp_path / "caddy"))
        stack.enter_context(running_nginx(NGINX, sites[1], tmp_path / "nginx"))
        a = stack.enter_context(running_instance(tmp_path, "a", database_factory(), sites[0], ca))
        b = stack.enter_context(running_instance(tmp_path, "b", database_factory(), sites[1], ca))
        create_user(a, "ana")
        create_user(b, "bob", password=False)
        yield a, b


def test_an_instance_behind_caddy_federates_with_one_behind_nginx_and_serves_browsers(
    deployment: tuple[Instance, Instance],
) -> None:
    a, b = deployment
    follow_each_other_and_deliver_a_post(a, b)
    client_addresses_reach_the_rate_limit(a)
    large_uploads_and_events_pass(a, proxy_refuses_large_bodies=False)
    streaming_passes(a)

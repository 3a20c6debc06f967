"""What an admin and their monitoring see: ``/healthz``, ``/metrics`` (read with prometheus-client's own
parser), and the admin Health page (issue 14, Operations)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from starlette.testclient import TestClient

from fediverse.core.config import Settings
from fediverse.reads.health import head_revision
from fediverse.web.app import create_app
from storage.models import Account, HostHealth
from storage.types import utcnow
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.web.conftest import BROWSER, sign_in
from tests.peers import FakePeer, PeerActor, running_peer

TOKEN = "s3cret-scrape-token"
AS2 = {"Accept": "application/activity+json"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    """``/metrics`` as prometheus-client's parser reads it: (sample name, labels) -> value."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert response.headers["cache-control"] == "no-store"
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def set_revision(client: TestClient, revision: str) -> None:
    async def downgrade() -> None:
        async with services_of(client).db.transaction() as session:
            await session.execute(text("UPDATE alembic_version SET version_num = :revision"), {"revision": revision})

    run_in_app(client, downgrade)


def test_healthz_is_ok_says_what_it_checked_and_is_never_cached(client: TestClient, settings: Settings) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    health = response.json()
    assert health["status"] == "ok"
    assert health["failed"] == []
    assert {name for name, check in health["checks"].items() if check["ok"]} == {"process", "database", "migrations"}
    assert health["checks"]["migrations"]["revision"] == health["checks"]["migrations"]["head"] == head_revision()
    # Nothing about where the database is or how to log in to it
    database = settings.database_url
    for secret in (database, database.rsplit("/", 1)[-1], database.split("@")[-1].split("/")[0]):
        assert secret not in response.text


def test_healthz_is_503_and_names_the_migration_missing(client: TestClient) -> None:
    set_revision(client, "0005")
    response = client.get("/healthz")
    assert response.status_code == 503
    health = response.json()
    assert health["status"] == "failing"
    assert health["failed"] == ["migrations"]
    migrations = health["checks"]["migrations"]
    assert (migrations["ok"], migrations["revision"], migrations["head"]) == (False, "0005", head_revision())
    assert "reverie migrate" in migrations["detail"]
    assert health["checks"]["database"]["ok"] is True


@pytest.fixture
def metrics_client(make_settings: Callable[..., Settings], database_url: str) -> Iterator[TestClient]:
    settings = make_settings(database_url, REVERIE_ALLOW_PRIVATE_ADDRESSES="true", REVERIE_METRICS_TOKEN=TOKEN)
    with TestClient(create_app(settings), base_url=TEST_BASE_URL) as test_client:
        yield test_client


def test_metrics_is_404_without_a_token_configured(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_metrics_answers_only_to_the_right_bearer_token(metrics_client: TestClient) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        refused = metrics_client.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "reverie_" not in refused.text
    assert scrape(metrics_client)


def _follow(client: TestClient, peer: FakePeer, actor: PeerActor) -> int:
    follow = {
        "id": f"{actor.id}#follows/1",
        "type": "Follow",
        "actor": actor.id,
        "object": f"{TEST_BASE_URL}/users/ana",
    }
    body = json.dumps(follow).encode()
    return client.post(
        "/inbox", content=body, headers=peer.signed_headers(actor, TEST_BASE_URL + "/inbox", body)
    ).status_code


def test_metrics_count_requests_inbox_deliveries_and_failing_hosts(metrics_client: TestClient, make_user: Any) -> None:
    client = metrics_client
    with running_peer() as good, running_peer() as bad:
        make_user("ana")
        ben, cat = good.add_actor("ben"), bad.add_actor("cat")
        before = scrape(client)

        # Requests: three reads of one route under different names, and a path no route matches
        for name in ("ana", "ana", "nobody"):
            client.get(f"/users/{name}", headers=AS2)
        assert client.get("/no/such/page/12345").status_code == 404
        # Two servers' users follow ana (signed inbox POSTs); one of those servers will fail her Accept
        bad.answer_inbox_with(500)
        assert _follow(client, good, ben) == 202
        assert _follow(client, bad, cat) == 202
        queued = scrape(client)
        assert value(queued, "reverie_queue_waiting", queue="inbox") == 2
        assert value(queued, "reverie_queue_due", queue="inbox") == 2

        worker = client.app_state["worker"]
        run_in_app(client, worker.drain)
        after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "reverie_http_requests_total"
    assert moved(requests, method="GET", route="/users/{username}", status="200") == 2
    assert moved(requests, method="GET", route="/users/{username}", status="404") == 1
    assert moved(requests, method="GET", route="unmatched", status="404") == 1
    assert moved(requests, method="POST", route="/inbox", status="202") == 2
    assert moved("reverie_http_request_duration_seconds_count", method="GET", route="/users/{username}") == 3
    routes = {dict(labels).get("route") for _, labels in after}
    assert "/users/ana" not in routes and "/no/such/page/12345" not in routes  # templates, never raw paths

    assert moved("reverie_inbox_accepted_total") == 2
    assert moved("reverie_inbox_processed_total", outcome="applied") == 2
    assert moved("reverie_deliveries_total", outcome="sent") == 1
    assert moved("reverie_deliveries_total", outcome="retry") == 1
    assert moved("reverie_remote_fetches_total", kind="document", outcome="ok") >= 2  # both followers' actors

    assert value(after, "reverie_queue_waiting", queue="inbox") == 0
    assert value(after, "reverie_queue_waiting", queue="deliveries") == 1  # the Accept to the failing server
    assert value(after, "reverie_queue_due", queue="deliveries") == 0  # …due again only later
    assert value(after, "reverie_failing_hosts") == 1
    assert value(after, "reverie_host_consecutive_failures", host=bad.host) == 1
    assert value(after, "reverie_database_up") == 1
    assert value(after, "reverie_migrations_current") == 1


def test_the_health_page_is_for_admins(client: TestClient, make_member: Callable[..., Account]) -> None:
    make_member("ana", is_admin=True)
    make_member("ben")

    async def a_failing_host() -> None:
        async with services_of(client).db.transaction() as session:
            session.add(HostHealth(host="down.example", consecutive_failures=7, first_failure_at=utcnow()))

    run_in_app(client, a_failing_host)
    media = services_of(client).settings.media_dir
    media.mkdir(parents=True, exist_ok=True)
    (media / "ab").mkdir(exist_ok=True)
    (media / "ab" / "picture.jpg").write_bytes(b"x" * 2500)
    assert client.get("/admin/health", headers=BROWSER).status_code == 401
    sign_in(client, "ben")
    assert client.get("/admin/health", headers=BROWSER).status_code == 403
    client.cookies.clear()
    sign_in(client, "ana")
    assert 'href="/admin/health"' in client.get("/admin", headers=BROWSER).text
    page = client.get("/admin/health", headers=BROWSER)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    for shown in ("Inbox", "Deliveries", "Thread fetches", "Generation", "Oldest due", "Media on disk"):
        assert shown in page.text
    assert "down.example" in page.text and "7 failures in a row" in page.text
    assert head_revision() in page.text
    assert "2.5 KB in 1 files" in page.text
    assert "Everything answers" in page.text

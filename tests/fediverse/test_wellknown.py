"""WebFinger, host-meta, NodeInfo and robots.txt, as Mastodon and GoToSocial request them."""

from __future__ import annotations

from collections.abc import Callable
from xml.etree import ElementTree

from starlette.testclient import TestClient

from fediverse.web.app import create_app
from tests.conftest import TEST_BASE_URL

HOST = "127.0.0.1:8765"


def test_webfinger_answers_an_acct_resource_in_mastodons_shape(
    client: TestClient, make_user: Callable[..., object]
) -> None:
    # Given a local user
    make_user("ana")
    # When a peer looks her up the way Mastodon does
    response = client.get(
        "/.well-known/webfinger",
        params={"resource": f"acct:ana@{HOST}"},
        headers={"Accept": "application/jrd+json, application/json"},
    )
    # Then it gets a JRD whose self link is her actor
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jrd+json")
    assert response.headers["access-control-allow-origin"] == "*"
    document = response.json()
    assert document["subject"] == f"acct:ana@{HOST}"
    assert f"{TEST_BASE_URL}/users/ana" in document["aliases"]
    links = {link["rel"]: link for link in document["links"]}
    assert links["self"] == {"rel": "self", "type": "application/activity+json", "href": f"{TEST_BASE_URL}/users/ana"}
    assert links["http://webfinger.net/rel/profile-page"]["href"] == f"{TEST_BASE_URL}/@ana"
    assert links["http://ostatus.org/schema/1.0/subscribe"]["template"] == (
        f"{TEST_BASE_URL}/authorize_interaction?uri={{uri}}"
    )


def test_webfinger_accepts_the_actor_url_and_mixed_case_as_resource(
    client: TestClient, make_user: Callable[..., object]
) -> None:
    make_user("ana")
    by_url = client.get("/.well-known/webfinger", params={"resource": f"{TEST_BASE_URL}/users/ana"})
    by_case = client.get("/.well-known/webfinger", params={"resource": f"acct:Ana@{HOST}"})
    assert by_url.status_code == by_case.status_code == 200
    # The subject is always the exact lowercase handle (GoToSocial compares it case-sensitively).
    assert by_url.json()["subject"] == by_case.json()["subject"] == f"acct:ana@{HOST}"


def test_webfinger_finds_the_instance_actor(client: TestClient) -> None:
    response = client.get("/.well-known/webfinger", params={"resource": f"acct:{HOST}@{HOST}"})
    assert response.status_code == 200
    self_link = next(link for link in response.json()["links"] if link["rel"] == "self")
    assert self_link["href"] == f"{TEST_BASE_URL}/actor"


def test_webfinger_rejects_unknown_malformed_and_foreign_resources(client: TestClient) -> None:
    assert client.get("/.well-known/webfinger", params={"resource": f"acct:nobody@{HOST}"}).status_code == 404
    assert client.get("/.well-known/webfinger").status_code == 400
    assert client.get("/.well-known/webfinger", params={"resource": "acct:nohost"}).status_code == 400
    assert client.get("/.well-known/webfinger", params={"resource": "mailto:x@y"}).status_code == 400
    foreign = client.get("/.well-known/webfinger", params={"resource": "acct:ana@elsewhere.example"})
    assert foreign.status_code == 400
    assert "error" in foreign.json()


def test_host_meta_points_lrdd_at_webfinger(client: TestClient) -> None:
    response = client.get("/.well-known/host-meta")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xrd+xml")
    link = ElementTree.fromstring(response.text).find("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link is not None
    assert link.get("rel") == "lrdd"
    assert link.get("template") == f"{TEST_BASE_URL}/.well-known/webfinger?resource={{uri}}"


def test_nodeinfo_discovery_and_documents_report_real_usage(
    client: TestClient, make_user: Callable[..., object]
) -> None:
    make_user("ana")
    make_user("ben")
    links = client.get("/.well-known/nodeinfo").json()["links"]
    rels = {link["rel"]: link["href"] for link in links}
    assert rels["http://nodeinfo.diaspora.software/ns/schema/2.0"] == f"{TEST_BASE_URL}/nodeinfo/2.0"
    assert rels["http://nodeinfo.diaspora.software/ns/schema/2.1"] == f"{TEST_BASE_URL}/nodeinfo/2.1"
    for version in ("2.0", "2.1"):
        response = client.get(f"/nodeinfo/{version}")
        assert response.status_code == 200
        # GoToSocial accepts plain application/json only (a 2.1 profile parameter is rejected).
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        document = response.json()
        assert document["version"] == version
        assert document["software"]["name"] == "reverie"
        assert document["software"]["version"]
        assert document["protocols"] == ["activitypub"]
        assert document["usage"]["users"]["total"] == 2
        assert document["usage"]["localPosts"] == 0
        assert document["openRegistrations"] is False
    assert client.get("/nodeinfo/1.0").status_code == 404


def test_open_registrations_are_reported(make_settings: Callable[..., object], database_url: str) -> None:
    settings = make_settings(database_url, REVERIE_REGISTRATIONS="open")
    with TestClient(create_app(settings), base_url=TEST_BASE_URL) as client:  # type: ignore[arg-type]
        assert client.get("/nodeinfo/2.0").json()["openRegistrations"] is True


def test_robots_txt_lets_crawlers_reach_discovery(client: TestClient) -> None:
    response = client.get("/robots.txt")
    assert response.status_code == 200
    disallowed = [line.split(":", 1)[1].strip() for line in response.text.splitlines() if line.startswith("Disallow")]
    for path in ("/.well-known/nodeinfo", "/nodeinfo/2.0", "/.well-known/webfinger", "/users/ana"):
        assert not any(path.startswith(rule) for rule in disallowed if rule)

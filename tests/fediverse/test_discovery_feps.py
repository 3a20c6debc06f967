"""FEP-2c59 (the ``webfinger`` property on actors) and FEP-d556 (the server-level actor found through
WebFinger at the server's origin), as a peer discovers them (issue 12, item 12, partial)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from tests.conftest import TEST_BASE_URL

HOST = "127.0.0.1:8765"
AS2 = {"Accept": "application/activity+json"}
JRD = {"Accept": "application/jrd+json"}


def finger(client: TestClient, resource: str) -> dict[str, str]:
    """rel -> href of the WebFinger answer for ``resource``."""
    response = client.get("/.well-known/webfinger", params={"resource": resource}, headers=JRD)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/jrd+json")
    return {link["rel"]: link.get("href", "") for link in response.json()["links"]}


@pytest.mark.parametrize("path", ["/users/ana", "/actor"])
def test_our_actors_say_their_address_and_webfinger_of_it_links_back_to_them_verbatim(
    client: TestClient, make_user: Callable[..., object], path: str
) -> None:
    # Given a local account, and the instance actor
    make_user("ana")
    # When a peer reads the actor document
    actor = client.get(path, headers=AS2).json()
    # Then it names a plain user@domain address (FEP-2c59's preferred form), declared in our context
    address = actor["webfinger"]
    assert address == f"{actor['preferredUsername']}@{HOST}"
    assert "webfinger" in actor["@context"][2]
    # And WebFinger of that address links to the actor id itself
    assert finger(client, f"acct:{address}")["self"] == actor["id"] == TEST_BASE_URL + path


@pytest.mark.parametrize("origin", [TEST_BASE_URL + "/", TEST_BASE_URL])
def test_the_server_origin_names_the_instance_actor(client: TestClient, origin: str) -> None:
    # When a peer asks WebFinger about our origin (FEP-d556)
    links = finger(client, origin)
    # Then the server-level actor is linked as an as:Service (and as self, which Mastodon's reader takes)
    service = links["https://www.w3.org/ns/activitystreams#Service"]
    assert service == links["self"] == f"{TEST_BASE_URL}/actor"
    # And it is the actor that signs our fetches
    actor = client.get("/actor", headers=AS2).json()
    assert actor["id"] == service and actor["type"] == "Application" and actor["publicKey"]["owner"] == service

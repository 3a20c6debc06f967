"""``REVERIE_AUTHORIZED_FETCH=true``: every ActivityPub GET must be signed, except the documents a peer
needs to check signatures at all (actors, barebones when unsigned, and the instance actor)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import insert
from starlette.testclient import TestClient

from fediverse.core.config import Settings
from storage.models import Account, DomainBlock
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.federation.conftest import AS2, publish
from tests.peers import FakePeer

ANA = f"{TEST_BASE_URL}/users/ana"


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    return make_settings(database_url, REVERIE_ALLOW_PRIVATE_ADDRESSES="true", REVERIE_AUTHORIZED_FETCH="true")


def test_unsigned_reads_are_refused_and_signed_ones_served(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given an instance in authorized-fetch mode with a public post
    make_user("ana")
    ben = peer.add_actor("ben")
    post = publish(client, "ana", "signed eyes only")
    urls = [
        post.ap_id,
        f"{post.ap_id}/activity",
        f"{post.ap_id}/replies",
        f"{ANA}/outbox",
        f"{ANA}/outbox?page=true",
        f"{ANA}/followers",
        f"{ANA}/following?page=1",
        f"{ANA}/collections/featured",
    ]
    for url in urls:
        # When a peer reads without a signature, it is told to sign
        assert client.get(url, headers=AS2).status_code == 401, url
        # When it signs, it is served
        assert client.get(url, headers=peer.signed_get_headers(ben, url)).status_code == 200, url


def test_a_bad_signature_is_401(client: TestClient, peer: FakePeer, make_user: Callable[..., Account]) -> None:
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    # Given a peer that signs with eve's key but names ben's
    url = f"{ANA}/outbox"
    forged = peer.signed_get_headers(eve, url, key_id=ben.key_id)
    # Then the forgery, and a signature made for another URL, are refused
    assert client.get(url, headers=forged).status_code == 401
    other_target = peer.signed_get_headers(ben, f"{ANA}/followers")
    assert client.get(url, headers=other_target).status_code == 401


def test_actor_documents_stay_readable_so_peers_can_get_our_key(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given a user with a bio
    make_user("ana", display_name="Ana Lima")
    ben = peer.add_actor("ben")
    # When a peer reads her actor unsigned, it gets the key and the inboxes but not the profile
    for path in ("/users/ana", "/@ana"):
        bare = client.get(path, headers=AS2)
        assert bare.status_code == 200
        document = bare.json()
        assert document["publicKey"]["owner"] == ANA
        assert document["inbox"] == f"{ANA}/inbox"
        assert document["endpoints"]["sharedInbox"] == f"{TEST_BASE_URL}/inbox"
        assert "name" not in document
        assert "summary" not in document
        assert bare.headers["cache-control"].startswith("private")
    # And the instance actor is served whole
    instance = client.get("/actor", headers=AS2)
    assert instance.status_code == 200
    assert instance.json()["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    # When the peer signs, it gets the whole profile
    full = client.get("/users/ana", headers=peer.signed_get_headers(ben, ANA)).json()
    assert full["name"] == "Ana Lima"


def test_a_signer_from_a_blocked_domain_is_refused(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana's instance blocks the peer's domain
    make_user("ana")
    ben = peer.add_actor("ben")
    post = publish(client, "ana", "not for them")

    async def block() -> None:
        async with services_of(client).db.transaction() as session:
            await session.execute(insert(DomainBlock).values(domain="127.0.0.1", reason="spam"))

    run_in_app(client, block)
    # When the peer fetches signed, it is refused
    assert client.get(post.ap_id, headers=peer.signed_get_headers(ben, post.ap_id)).status_code == 403
    # And its actor document read gets the barebones version, never the profile
    assert "summary" not in client.get("/users/ana", headers=peer.signed_get_headers(ben, ANA)).json()

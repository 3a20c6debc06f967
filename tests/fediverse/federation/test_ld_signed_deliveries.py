"""What we deliver carries a Linked Data signature where Mastodon's would (issue 12, item 6; decision 0058).

A public or unlisted Create, Update, Delete or Announce is signed with ``RsaSignature2017`` by its actor's
key, so the receiving Mastodon forwards our users' replies to the rest of a thread. The signatures are
checked here by apsig and by ``tests/ld_reference.py`` (neither shares code with ours), with the key our
actor document publishes; followers-only posts and authorized-fetch servers send none, as Mastodon's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from apsig import LDSignature
from pyld import jsonld
from starlette.testclient import TestClient

from activitypub.keys import load_public_key
from activitypub.ld_signatures import document_loader
from fediverse.core.accounts import create_account
from fediverse.core.config import Settings
from fediverse.social import actions
from fediverse.web.app import create_app
from storage.models import Visibility
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.federation.conftest import AS2, act, drain, publish, remote_follows, remote_note
from tests.ld_reference import mastodon_verify
from tests.peers import FakePeer

ANA_KEY = f"{TEST_BASE_URL}/users/ana#main-key"


@pytest.fixture
def offline_pyld() -> Iterator[None]:
    default = jsonld.get_document_loader()
    jsonld.set_document_loader(document_loader)
    try:
        yield
    finally:
        jsonld.set_document_loader(default)


def ana_public_pem(client: TestClient) -> str:
    pem: str = client.get("/users/ana", headers=AS2).json()["publicKey"]["publicKeyPem"]
    return pem


def checked_by_both(activity: dict[str, Any], pem: str) -> bool:
    by_apsig = LDSignature().verify(activity, load_public_key(pem)) == ANA_KEY
    return by_apsig and mastodon_verify(activity, pem)


def test_public_activities_carry_a_signature_others_verify(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Any], offline_pyld: None
) -> None:
    # Given ana, followed by ben on a Mastodon-like server
    make_user("ana")
    ben = peer.add_actor("ben")
    remote_follows(client, peer, ben, "ana")
    peer.trust(client.get("/users/ana", headers=AS2).json())
    # When she posts, edits, boosts and deletes publicly
    post = publish(client, "ana", "low tide at dawn")
    drain(client)
    act(client, partial(actions.edit_post, caption="low tide at dawn, herons"), "ana", post.ap_id)
    peer.add_object(remote_note(ben, 7))
    act(client, actions.boost, "ana", f"{ben.id}/statuses/7")
    act(client, actions.delete_post, "ana", post.ap_id)
    drain(client)
    # Then each of them carries ana's RsaSignature2017, which apsig and the reference both verify
    pem = ana_public_pem(client)
    for kind in ("Create", "Update", "Announce", "Delete"):
        (activity,) = peer.activities(kind)
        assert activity["signature"]["type"] == "RsaSignature2017", kind
        assert activity["signature"]["creator"] == ANA_KEY
        assert checked_by_both(activity, pem), kind
    # and the HTTP signature covers the signed body as sent
    assert all(received.signature_ok for received in peer.posts() if "signature" in received.activity)


def test_followers_only_posts_carry_no_linked_data_signature(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Any]
) -> None:
    make_user("ana")
    ben = peer.add_actor("ben")
    remote_follows(client, peer, ben, "ana")
    publish(client, "ana", "for my followers", visibility=Visibility.FOLLOWERS)
    drain(client)
    (create,) = peer.activities("Create")
    assert "signature" not in create  # Mastodon signs only what may be passed on (public, unlisted)


def test_nothing_is_signed_under_authorized_fetch(
    make_settings: Callable[..., Settings], database_url: str, peer: FakePeer
) -> None:
    settings = make_settings(database_url, REVERIE_ALLOW_PRIVATE_ADDRESSES="true", REVERIE_AUTHORIZED_FETCH="true")
    with TestClient(create_app(settings), base_url=TEST_BASE_URL) as client:
        services = services_of(client)
        run_in_app(client, create_account, services.db, services.urls, "ana")
        ben = peer.add_actor("ben")
        remote_follows(client, peer, ben, "ana")
        publish(client, "ana", "public, on a server in secure mode")
        drain(client)
    (create,) = peer.activities("Create")
    assert "signature" not in create  # Mastodon does not sign in secure mode either

"""Independent ActivityPub libraries read what we serve (see docs/decisions/0004-little-boxes-as-test-reader.md).

``active-boxes`` (the maintained fork of little-boxes) and ``little-boxes`` itself were written by
someone else against Mastodon's output; if they cannot read our documents, neither can a peer.
"""

from __future__ import annotations

from collections.abc import Callable

import active_boxes.activitypub as active_boxes
import little_boxes.activitypub as little_boxes
from starlette.testclient import TestClient

from activitypub.keys import load_public_key
from storage.models import Account

AS2 = {"Accept": "application/activity+json"}


def test_active_boxes_reads_our_actor_and_its_key(client: TestClient, make_user: Callable[..., Account]) -> None:
    make_user("ana")
    document = client.get("/users/ana", headers=AS2).json()
    person = active_boxes.parse_activity(document)
    assert isinstance(person, active_boxes.Person)
    assert person.id == document["id"]
    assert person.inbox == document["inbox"]
    assert person.manually_approves_followers() is False
    key = person.get_key()
    assert key.owner == document["id"]
    assert key.id_ == f"{document['id']}#main-key"
    assert key.pubkey.size_in_bits() == 2048
    ours = load_public_key(document["publicKey"]["publicKeyPem"])
    assert key.pubkey.n == ours.public_numbers().n  # type: ignore[union-attr]


def test_little_boxes_reads_our_actor(client: TestClient, make_user: Callable[..., Account]) -> None:
    make_user("ana")
    document = client.get("/users/ana", headers=AS2).json()
    person = little_boxes.parse_activity(document)
    assert isinstance(person, little_boxes.Person)
    assert person.id == document["id"]
    assert person.outbox == document["outbox"]
    assert person.followers == document["followers"]


def test_active_boxes_reads_our_instance_actor(client: TestClient) -> None:
    document = client.get("/actor", headers=AS2).json()
    application = active_boxes.parse_activity(document)
    assert isinstance(application, active_boxes.Application)
    assert application.get_key().owner == document["id"]

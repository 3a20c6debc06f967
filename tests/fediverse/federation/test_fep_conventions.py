"""FEP-844e capabilities, FEP-4c96 content labels and FEP-e232 object links (issue 12, item 12).

Each document is read as a peer gets it over HTTP, and by active-boxes (an independent ActivityStreams
reader) where it parses such documents; the JSON-LD expansion of all of them, in 1.0 and 1.1 modes, is
checked in ``test_jsonld_context.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from fediverse.federation.notes_in import parse_note
from storage.models import Post
from tests.conftest import TEST_BASE_URL
from tests.fediverse.federation.conftest import AS2, create_of, deliver, publish, query, remote_note
from tests.fediverse.studio.conftest import generate, sign_in
from tests.interop.readers import reading_with_active_boxes
from tests.peers import FakePeer

RFC9421 = "https://datatracker.ietf.org/doc/html/rfc9421"
LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'


def test_the_instance_actor_lists_what_it_implements(client: TestClient) -> None:
    actor = client.get("/actor", headers=AS2).json()
    assert actor["type"] == "Application"
    assert actor["implements"] == [{"href": RFC9421, "name": "RFC-9421: HTTP Message Signatures"}]


def test_every_actor_names_its_software_capabilities_through_generator(
    client: TestClient, make_user: Callable[..., Any]
) -> None:
    make_user("ana")
    actor = client.get("/users/ana", headers=AS2).json()
    # FEP-844e's "discovery through an actor", as tootik and Mitra read it
    assert actor["generator"]["type"] == "Application"
    assert [item["href"] for item in actor["generator"]["implements"]] == [RFC9421]


def test_a_generated_post_carries_a_content_label_that_resolves(
    client: TestClient, make_user: Callable[..., Any]
) -> None:
    # Given a post of an image the procedural painter made (IPTC: algorithmic media)
    ana = sign_in(client, make_user("ana"))
    drafts = generate(ana, prompt="dunes at dusk", seed=3)["media"]
    created = ana.post("/api/posts", json={"media_ids": [drafts[0]["id"]], "caption": "dunes"})
    assert created.status_code == 201, created.text
    note = client.get(created.json()["ap_id"].removeprefix(TEST_BASE_URL), headers=AS2).json()
    # Then the Note and its image carry a FEP-4c96 Label…
    label = {"type": "Label", "href": f"{TEST_BASE_URL}/labels/computer-generated", "name": "Computer-generated"}
    assert label in note["tag"] and note["attachment"][0]["tag"] == [label]
    # …whose LabelDefinition resolves, names the IPTC term it stands for, and belongs to our vocabulary
    definition = client.get("/labels/computer-generated", headers=AS2).json()
    assert definition["type"] == "LabelDefinition" and definition["id"] == label["href"]
    assert definition["exactMatch"] == note["attachment"][0]["digitalSourceType"]
    vocabulary = client.get(definition["context"].removeprefix(TEST_BASE_URL), headers=AS2).json()
    assert (
        vocabulary["type"] == "Collection" and {"id": label["href"], "type": "LabelDefinition"} in vocabulary["items"]
    )
    assert vocabulary["totalItems"] == len(vocabulary["items"]) == 3
    assert client.get("/labels/nsfw", headers=AS2).status_code == 404
    # and an independent reader still takes the labelled Create as a Create of that Note
    create = client.get(created.json()["ap_id"].removeprefix(TEST_BASE_URL) + "/activity", headers=AS2).json()
    with reading_with_active_boxes(client) as parse:
        assert parse(create).id == create["id"]


def test_a_post_without_generated_images_carries_no_label(client: TestClient, make_user: Callable[..., Any]) -> None:
    make_user("ana")
    post = publish(client, "ana", "words only")
    note = client.get(post.ap_id.removeprefix(TEST_BASE_URL), headers=AS2).json()
    assert all(tag["type"] != "Label" for tag in note["tag"])


@pytest.mark.parametrize(
    "media_type",
    [LD, "application/activity+json", 'application/ld+json;profile="https://www.w3.org/ns/activitystreams"'],
)
def test_an_object_link_to_a_local_post_makes_a_strangers_note_relevant(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Any], media_type: str
) -> None:
    # Given ana's post, and a stranger (nobody here follows him) whose note links to it (FEP-e232)
    make_user("ana")
    post = publish(client, "ana", "a harbour")
    zed = peer.add_actor("zed")
    link = {"type": "Link", "mediaType": media_type, "href": post.ap_id, "name": f"RE: {post.ap_id}"}
    note = remote_note(zed, 1, f"<p>look at this<br>RE: {post.ap_id}</p>", tag=[link])
    # When his server delivers it to us
    deliver(client, peer, zed, create_of(zed, note))
    # Then it is kept (it concerns someone here), as a reply or a mention would be
    assert query(client, select(Post.id).where(Post.ap_id == note["id"]))
    assert parse_note(note, None).object_links == [post.ap_id]


def test_a_link_that_is_not_an_object_link_changes_nothing(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Any]
) -> None:
    make_user("ana")
    post = publish(client, "ana", "a harbour")
    zed = peer.add_actor("zed")
    plain = {"type": "Link", "mediaType": "text/html", "href": post.ap_id}
    note = remote_note(zed, 2, "<p>a web page</p>", tag=[plain])
    deliver(client, peer, zed, create_of(zed, note))
    assert not query(client, select(Post.id).where(Post.ap_id == note["id"]))
    assert parse_note(note, None).object_links == []

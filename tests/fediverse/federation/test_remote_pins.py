"""A remote actor's pins (Mastodon's ``featured`` collection): fetched signed in the background when the actor
is resolved (the thread-fetch queue, ``FetchKind.FEATURED``; at most ``MAX_FEATURED`` items, each post believed
from its own server and kept only when the actor wrote it), then kept in step by the ``Add``/``Remove`` the
actor sends with that collection as ``target``, as Mastodon's ``FetchFeaturedCollectionService`` and its
``Add``/``Remove`` handlers do. Shown first on the remote profile page and in ``accounts/:id/statuses?pinned=true``.
The peer is a real HTTP server serving the collection as Mastodon does (``orderedItems`` holding whole notes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from storage.models import Account, Actor, Post
from tests.fediverse.client_api.conftest import token_for  # noqa: F401 (a fixture, used by name)
from tests.fediverse.federation.conftest import create_of, deliver, drain, follow_remote, query, remote_note
from tests.fediverse.web.conftest import BROWSER
from tests.peers import FakePeer, PeerActor

MASTODON_CONTEXT = [
    "https://www.w3.org/ns/activitystreams",
    "https://w3id.org/security/v1",
    {"toot": "http://joinmastodon.org/ns#", "featured": {"@id": "toot:featured", "@type": "@id"}},
]


def featured_of(actor: PeerActor) -> str:
    return f"{actor.id}/collections/featured"


def serve_featured(peer: FakePeer, actor: PeerActor, items: list[Any]) -> None:
    """The actor's ``featured`` as Mastodon's ``ActivityPub::CollectionsController#show`` serves it."""
    peer.add_object(
        {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": featured_of(actor),
            "type": "OrderedCollection",
            "totalItems": len(items),
            "orderedItems": items,
        }
    )


def pin_activity(kind: str, actor: PeerActor, note_id: str, number: int, target: str | None = None) -> dict[str, Any]:
    """Mastodon's ``AddSerializer``/``RemoveSerializer``: the status's URI as ``object``, ``featured`` as target."""
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor.id}#{kind.lower()}s/{number}",
        "type": kind,
        "actor": actor.id,
        "object": note_id,
        "target": target or featured_of(actor),
    }


def pinned_ids(client: TestClient, headers: dict[str, str], actor_id: int) -> list[str]:
    answer = client.get(f"/api/v1/accounts/{actor_id}/statuses", params={"pinned": "true"}, headers=headers)
    assert answer.status_code == 200, answer.text
    return [status["id"] for status in answer.json()]


def post_id(client: TestClient, ap_id: str) -> str:
    ((found,),) = query(client, select(Post.id).where(Post.ap_id == ap_id))
    return str(found)


def test_a_remote_actors_pins_are_fetched_shown_and_kept_in_step(
    client: TestClient,
    peer: FakePeer,
    make_user: Callable[..., Account],
    token_for: Callable[..., dict[str, str]],  # noqa: F811
) -> None:
    ana = make_user("ana")
    koi = peer.add_actor("koi")
    koi.extra.update({"@context": MASTODON_CONTEXT, "featured": featured_of(koi)})  # as Mastodon's actors
    rin = peer.add_actor("rin", 1)
    notes = [
        remote_note(koi, number, f"<p>pinned {number}</p>", published="2026-11-0{number}T10:00:00Z")
        for number in (1, 2, 3, 4)
    ]
    for note in notes:
        peer.add_object(note)
    strangers = remote_note(rin, 9, "<p>not koi's</p>")
    peer.add_object(strangers)
    # koi's collection: note 2 (embedded whole, as Mastodon serves it), note 1 (by id), and rin's post
    serve_featured(peer, koi, [notes[1], notes[0]["id"], strangers])
    # When ana follows koi (koi's actor is resolved) and the worker runs
    follow_remote(client, peer, "ana", koi)
    drain(client)
    # Then koi's pins are stored, in the collection's order, rin's post not among them
    ((koi_id,),) = query(client, select(Actor.id).where(Actor.ap_id == koi.id))
    headers = token_for(ana)
    assert pinned_ids(client, headers, koi_id) == [post_id(client, notes[1]["id"]), post_id(client, notes[0]["id"])]
    # And the collection and the note were fetched signed
    fetched = [got for got in peer.fetched if got.path.endswith("/collections/featured")]
    assert fetched and all(got.key_id is not None for got in fetched)
    # And the profile page shows them first
    page = client.get(f"/@koi@{peer.host}", headers=BROWSER).text
    pinned = page[page.index('id="pinned-grid"') : page.index("</section>", page.index('id="pinned-grid"'))]
    assert f"/@koi@{peer.host}/{post_id(client, notes[1]['id'])}" in pinned
    # When koi posts note 3 and pins it, and unpins note 1
    deliver(client, peer, koi, create_of(koi, notes[2]))
    deliver(client, peer, koi, pin_activity("Add", koi, notes[2]["id"], 1))
    deliver(client, peer, koi, pin_activity("Remove", koi, notes[0]["id"], 2))
    # Then the pins follow, newest pin first
    assert pinned_ids(client, headers, koi_id) == [post_id(client, notes[2]["id"]), post_id(client, notes[1]["id"])]
    # When koi pins note 4, which we do not have: the collection is read again by the worker
    serve_featured(peer, koi, [notes[3], notes[2], notes[1]])
    deliver(client, peer, koi, pin_activity("Add", koi, notes[3]["id"], 3))
    drain(client)
    assert pinned_ids(client, headers, koi_id)[0] == post_id(client, notes[3]["id"])
    # And an Add to another collection, or of someone else's post, pins nothing
    deliver(client, peer, rin, create_of(rin, strangers))
    deliver(client, peer, koi, pin_activity("Add", koi, strangers["id"], 4))
    deliver(client, peer, koi, pin_activity("Remove", koi, notes[3]["id"], 5, target=f"{koi.id}/collections/tags"))
    assert len(pinned_ids(client, headers, koi_id)) == 3
    assert post_id(client, strangers["id"]) not in pinned_ids(client, headers, koi_id)

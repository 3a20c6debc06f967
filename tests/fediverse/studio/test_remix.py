"""Remixing: a post that carries a prompt (ours or another Reverie's) prefills a new job; the result links back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from activitypub.vocab import LD_MEDIA_TYPE
from fediverse.federation.notes_in import parse_note
from storage.models import Account, Notification, NotificationType
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.studio.conftest import SMALL, Browser, drain, generate, send_activity, sign_in
from tests.peers import FakePeer

AS2 = {"Accept": "application/activity+json"}


def remix_of(browser: Browser, source: str) -> Any:
    return browser.get("/api/remix", params={"source": source})


def notifications_of(client: TestClient, account: Account) -> list[str]:
    services = services_of(client)

    async def load() -> list[str]:
        async with services.db.session() as session:
            rows = await session.scalars(select(Notification.type).where(Notification.account_id == account.id))
            return list(rows)

    return run_in_app(client, load)


def test_a_remix_starts_from_the_source_and_links_back_to_it(
    client: TestClient, ana: Browser, make_user: Callable[..., Account]
) -> None:
    # Given ana published a watercolor from a prompt and seed
    image = generate(ana, prompt="misty mountains at sunrise", seed=42, style="watercolor", **SMALL)["media"][0]
    source = ana.post("/api/posts", json={"media_ids": [image["id"]], "caption": "morning"}).json()
    # When ben asks to remix it (by its id or by its page address)
    ben = sign_in(client, make_user("ben"))
    recipe = remix_of(ben, source["ap_id"])
    assert recipe.status_code == 200
    assert recipe.json() == {
        "prompt": "misty mountains at sunrise",
        "negative_prompt": "",
        "seed": 42,
        "style": "watercolor",
        "width": 64,
        "height": 64,
        "remix_of": source["ap_id"],
    }
    assert remix_of(ben, source["url"]).json() == recipe.json()
    # And generates from it with a twist, and publishes
    twist = {**recipe.json(), "prompt": "misty mountains at sunrise, in autumn"}
    job = ben.post("/api/generations", json=twist)
    assert job.status_code == 202
    drain(client)
    remixed = ben.get(f"/api/generations/{job.json()['id']}").json()["media"][0]
    assert remixed["generation"]["remixOf"] == source["ap_id"]
    post = ben.post("/api/posts", json={"media_ids": [remixed["id"]]}).json()
    # Then the new Note names its source, in our terms and in a link people see
    note = ben.get("/users/ben/outbox?page=true", headers=AS2).json()["orderedItems"][0]["object"]
    assert note["id"] == post["ap_id"]
    assert note["remixOf"] == source["ap_id"]
    assert f'Remix<br>RE: <a href="{source["ap_id"]}"' in note["content"]
    # and a FEP-e232 object link to it, named as the content's "RE:" line, which a FEP-e232 reader finds
    link = {"type": "Link", "mediaType": LD_MEDIA_TYPE, "href": source["ap_id"], "name": f"RE: {source['ap_id']}"}
    assert link in note["tag"]
    assert parse_note(note, None).object_links == [source["ap_id"]]
    # And ana hears about it
    assert NotificationType.REMIX in notifications_of(client, ana.account)


def test_only_posts_with_a_visible_prompt_can_be_remixed(
    client: TestClient, ana: Browser, make_user: Callable[..., Account]
) -> None:
    words = ana.post("/api/posts", json={"caption": "just words"}).json()
    image = generate(ana)["media"][0]
    private = ana.post("/api/posts", json={"media_ids": [image["id"]], "visibility": "followers"}).json()
    ben = sign_in(client, make_user("ben"))
    for source in (words["ap_id"], private["ap_id"], f"{TEST_BASE_URL}/users/ana/statuses/12345"):
        refused = remix_of(ben, source)
        assert refused.status_code == 404, source
    assert remix_of(ben, "").status_code == 400
    ana = sign_in(client, ana.account)
    assert remix_of(ana, private["ap_id"]).status_code == 200  # her own


def reverie_note(peer: FakePeer, number: int, generation: dict[str, Any]) -> dict[str, Any]:
    """A Note as another Reverie instance serves it, with its generation block."""
    author = f"{peer.base_url}/users/cleo"
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", {"reverie": "https://reverie.example/ns#"}],
        "id": f"{author}/statuses/{number}",
        "type": "Note",
        "attributedTo": author,
        "url": f"{peer.base_url}/@cleo/{number}",
        "published": "2026-11-20T10:00:00Z",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [f"{author}/followers", f"{TEST_BASE_URL}/users/ana"],
        "content": "<p>a remote painting</p>",
        "tag": [{"type": "Mention", "href": f"{TEST_BASE_URL}/users/ana", "name": "@ana"}],
        "attachment": [],
        "generation": generation,
    }


def test_posts_from_another_reverie_can_be_remixed(client: TestClient, ana: Browser, peer: FakePeer) -> None:
    cleo = peer.add_actor("cleo")
    shown = {
        "prompt": "a lighthouse in the fog",
        "negativePrompt": "boats",
        "seed": 9,
        "backend": "procedural",
        "model": "procedural mood painter 1.0",
        "parameters": {"width": 768, "height": 768, "style": "noir"},
    }
    # Given a remote Reverie post that mentions ana arrives in her inbox
    note = reverie_note(peer, 1, shown)
    create = {"id": f"{note['id']}/activity", "type": "Create", "actor": cleo.id, "object": note}
    assert send_activity(client, peer, cleo, create) == 202
    drain(client)
    # Then ana can remix it
    assert remix_of(ana, note["id"]).json() == {
        "prompt": "a lighthouse in the fog",
        "negative_prompt": "boats",
        "seed": 9,
        "style": "noir",
        "width": 768,
        "height": 768,
        "remix_of": note["id"],
    }
    # And one she has never seen is fetched from its server first
    fetched = reverie_note(peer, 2, {**shown, "seed": 10, "parameters": {"size": "1536x1024", "style": "baroque"}})
    peer.add_object(fetched)
    recipe = remix_of(ana, fetched["id"]).json()
    assert (recipe["seed"], recipe["style"], recipe["width"], recipe["height"]) == (10, None, 1536, 1024)
    # But a post whose author hid the prompt cannot be remixed
    hidden = reverie_note(peer, 3, {key: value for key, value in shown.items() if key != "prompt"})
    peer.add_object(hidden)
    assert remix_of(ana, hidden["id"]).status_code == 404

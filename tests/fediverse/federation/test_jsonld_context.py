"""Every document we serve expands under JSON-LD 1.0 and 1.1 processors (pyld), without error and without
an undeclared term (issue 12, item 1).

Friendica, and anything else built on pyld or jsonld.js in 1.0 mode, processes our ``@context``; one term a
1.0 processor refuses (``"@type": "@json"`` did) makes it reject every actor and activity we send. The
documents here are the ones peers really get: delivered to a fake server on 127.0.0.1 or fetched over HTTP.
The remote contexts come from ``activitypub/contexts`` through its local document loader (no network).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from pyld import jsonld
from starlette.testclient import TestClient

from activitypub.ld_signatures import document_loader
from activitypub.vocab import CONTEXT
from fediverse.social import actions
from fediverse.social.posts import PostDraft
from fediverse.social.profiles import ProfileChanges
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.federation.conftest import (
    AS2,
    act,
    drain,
    follow_remote,
    known_actor,
    remote_note,
    send_activity,
)
from tests.fediverse.studio.conftest import follow_from, generate, sign_in
from tests.peers import FakePeer

MODES = ["json-ld-1.0", "json-ld-1.1"]


def expand(document: dict[str, Any], mode: str) -> list[Any]:
    """pyld's expansion with the loader Linked Data signatures use: the bundled contexts, no network."""
    expanded: list[Any] = jsonld.expand(document, {"documentLoader": document_loader, "processingMode": mode})
    return expanded


def _walk(value: Any, key: str | None = None) -> Iterator[tuple[str | None, Any]]:
    """(key, scalar) for every scalar in a JSON value (a list's items under the list's key), ``@context``
    left out."""
    if isinstance(value, dict):
        for name, item in value.items():
            if name != "@context":
                yield from _walk(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, key)
    else:
        yield key, value


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def problems(document: dict[str, Any], mode: str) -> list[str]:
    """What a processor in ``mode`` loses of ``document``: undeclared terms (which AS2's ``"@vocab": "_:"``
    turns into blank-node properties and types), and values that do not survive expansion at all."""
    expanded = expand(document, mode)
    found = [f"undeclared term {key}" for key in _keys(expanded) if key.startswith("_:")]
    found += [f"undeclared type {value}" for key, value in _walk(expanded) if key == "@type" and value.startswith("_:")]
    kept = [value for _, value in _walk(expanded)] + [key for key in _keys(expanded) if key not in ("@index",)]
    strings = [value for value in kept if isinstance(value, str)]
    for key, value in _walk(document):
        if value is None:
            continue  # JSON-LD drops nulls by design: absent and null mean the same
        if isinstance(value, str):
            if not any(candidate == value or candidate.endswith(value) for candidate in strings):
                found.append(f"{key}: {value!r} is lost")
        elif value not in kept:
            found.append(f"{key}: {value!r} is lost")
    return found


def test_the_checker_sees_an_undeclared_term_and_a_lost_value() -> None:
    document = {"@context": CONTEXT, "id": "https://x.example/1", "type": "Note", "shoeSize": 44}
    for mode in MODES:
        assert problems(document, mode) == ["undeclared term _:shoeSize"]
    no_vocab = {
        "@context": {"as": "https://www.w3.org/ns/activitystreams#", "name": "as:name"},
        "@id": "https://x.example/1",
        "name": "kept",
        "a": 7,
    }
    assert problems(no_vocab, "json-ld-1.1") == ["a: 7 is lost"]


@pytest.fixture
def served(client: TestClient, peer: FakePeer, make_user: Any) -> dict[str, dict[str, Any]]:
    """One of every kind of document peers get from us: delivered to ``peer`` or fetched over HTTP."""
    ana = sign_in(client, make_user("ana"))
    ben = follow_from(client, peer, "ana")  # ben follows ana: our Accept reaches the peer
    drafts = generate(ana, prompt="a lighthouse in fog", seed=7)["media"]
    caption = f"a lighthouse #fog @{ben.handle}"
    created = ana.post("/api/posts", json={"media_ids": [drafts[0]["id"]], "caption": caption, "mood_word": "calm"})
    assert created.status_code == 201, created.text
    post_id = created.json()["ap_id"]
    drain(client)
    act(client, partial(actions.edit_post, caption="a lighthouse in fog #fog"), "ana", post_id)
    peer.add_object(remote_note(ben, 1))
    note_by_ben = f"{ben.id}/statuses/1"
    act(client, actions.like, "ana", note_by_ben)
    act(client, actions.unlike, "ana", note_by_ben)
    act(client, actions.boost, "ana", note_by_ben)
    act(
        client,
        actions.update_profile,
        "ana",
        ProfileChanges(display_name="Ana", bio="paints light", manually_approves_followers=False),
    )
    known_actor(client, ben)
    follow_remote(client, peer, "ana", ben)
    drain(client)
    documents: dict[str, dict[str, Any]] = {}
    for activity in peer.activities():
        kind = (
            activity["type"]
            + "{"
            + str(activity["object"].get("type") if isinstance(activity["object"], dict) else "id")
            + "}"
        )
        documents.setdefault(kind, activity)
    fetched = {
        "actor": "/users/ana",
        "instance actor": "/actor",
        "note": post_id,
        "create": f"{post_id}/activity",
        "replies": f"{post_id}/replies",
        "replies page": f"{post_id}/replies?page=true",
        "outbox": "/users/ana/outbox",
        "outbox page": "/users/ana/outbox?page=true",
        "followers": "/users/ana/followers",
        "following": "/users/ana/following",
        "following page": "/users/ana/following?page=1",
        "featured": "/users/ana/collections/featured",
        "featured tags": "/users/ana/collections/tags",
        "label vocabulary": "/labels",
        "label definition": "/labels/computer-generated",
    }
    for name, url in fetched.items():
        response = client.get(url.removeprefix(TEST_BASE_URL), headers=AS2)
        assert response.status_code == 200, (name, response.status_code)
        documents[name] = response.json()
    documents.update(quote_documents(client, peer, ben, post_id))
    act(client, actions.delete_post, "ana", post_id)
    drain(client)
    tombstone = client.get(post_id.removeprefix(TEST_BASE_URL), headers=AS2)
    assert tombstone.status_code == 410
    documents["tombstone"] = tombstone.json()
    documents["Delete{Tombstone}"] = peer.activities("Delete")[-1]
    return documents


def quote_documents(client: TestClient, peer: FakePeer, ben: Any, post_id: str) -> dict[str, dict[str, Any]]:
    """FEP-044f's documents (decision 0064): ana quotes ben's post, which asks to be asked (our
    ``QuoteRequest``, then the quoting Note with ``quoteAuthorization``), and ben asks to quote ana's post (our
    ``Accept`` and the ``QuoteAuthorization`` we serve)."""
    public = "https://www.w3.org/ns/activitystreams#Public"
    quoted = remote_note(
        ben, 2, interactionPolicy={"canQuote": {"automaticApproval": [ben.id], "manualApproval": [public]}}
    )
    peer.add_object(quoted)
    quoted_post = run_in_app(client, services_of(client).resolver.note, quoted["id"])
    quoting = act(client, actions.publish, "ana", PostDraft(caption="so true", quote_of=quoted_post))
    drain(client)
    request = peer.activities("QuoteRequest")[-1]
    accept = {"id": f"{ben.id}#accepts/1", "type": "Accept", "actor": ben.id, "object": request}
    assert send_activity(client, peer, ben, {**accept, "result": f"{ben.id}/quote_authorizations/1"}) == 202
    asked = {"id": f"{ben.id}#quote_requests/1", "type": "QuoteRequest", "actor": ben.id, "object": post_id}
    assert send_activity(client, peer, ben, {**asked, "instrument": f"{ben.id}/statuses/3"}) == 202
    drain(client)
    ours = [item for item in peer.activities("Accept") if item.get("result")][-1]
    quoting_note = client.get(quoting.ap_id.removeprefix(TEST_BASE_URL), headers=AS2).json()
    assert quoting_note["quote"] == quoted["id"] and quoting_note["quoteAuthorization"]
    return {
        "QuoteRequest": request,
        "quoting note": quoting_note,
        "Accept{QuoteRequest}": ours,
        "quote authorization": client.get(ours["result"].removeprefix(TEST_BASE_URL), headers=AS2).json(),
    }


@pytest.mark.parametrize("mode", MODES)
def test_every_document_we_serve_expands_without_losing_a_term(served: dict[str, dict[str, Any]], mode: str) -> None:
    # Given every kind of document a peer gets from us
    assert {"Accept{Follow}", "Create{Note}", "Update{Note}", "Update{Person}", "Like{id}", "Undo{Like}",
            "Announce{id}", "Follow{id}", "Delete{Tombstone}"} <= set(served)  # fmt: skip
    note = served["note"]
    assert note["generation"]["parameters"] and note["generation"]["prompt"] == "a lighthouse in fog"
    assert note["attachment"][0]["focalPoint"] and note["attachment"][0]["digitalSourceType"]
    assert [tag["type"] for tag in note["tag"]].count("Label") == 1 and note["attachment"][0]["tag"]
    assert served["instance actor"]["implements"] and served["actor"]["generator"]["implements"]
    assert note["interactionPolicy"]["canReply"]["automaticApproval"]  # GoToSocial's terms (decision 0063)
    # Then a processor in this mode expands each without error, and keeps every term and value
    lost = {name: found for name, document in served.items() if (found := problems(document, mode))}
    assert lost == {}


@pytest.mark.parametrize("mode", MODES)
def test_the_provenance_block_keeps_its_members_and_parameter_names(
    served: dict[str, dict[str, Any]], mode: str
) -> None:
    # Given our Note with its generation block
    (note,) = expand(served["note"], mode)
    reverie = "https://reverie.social/ns#"
    # Then the block is a node with each member under our namespace, the parameters indexed by their names
    (generation,) = note[reverie + "generation"]
    assert generation[reverie + "prompt"] == [{"@value": "a lighthouse in fog"}]
    assert generation[reverie + "seed"] == [{"@value": 7}]
    names = {item["@index"] for item in generation[reverie + "parameters"]}
    assert {"width", "height", "style"} <= names


@pytest.mark.parametrize("mode", MODES)
def test_labels_and_capabilities_expand_to_their_feps_terms(served: dict[str, dict[str, Any]], mode: str) -> None:
    # Given our Note (an image a procedural painter made), the instance actor and a label definition
    (note,) = expand(served["note"], mode)
    (instance,) = expand(served["instance actor"], mode)
    (definition,) = expand(served["label definition"], mode)
    as2 = "https://www.w3.org/ns/activitystreams#"
    # Then the FEP-4c96 Label is typed as the FEP names it and links to our definition
    labels = [tag for tag in note[as2 + "tag"] if tag.get("@type") == ["https://w3id.org/fep/4c96#Label"]]
    assert [label[as2 + "href"][0]["@id"] for label in labels] == [f"{TEST_BASE_URL}/labels/computer-generated"]
    assert definition["@type"] == ["https://w3id.org/fep/4c96#LabelDefinition"]
    iptc = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"
    assert definition["http://www.w3.org/2004/02/skos/core#exactMatch"] == [{"@id": iptc}]
    # and FEP-844e's implements names RFC 9421
    (capability,) = instance["https://w3id.org/fep/844e/implements"]
    assert capability[as2 + "href"] == [{"@id": "https://datatracker.ietf.org/doc/html/rfc9421"}]

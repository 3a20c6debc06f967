"""Our users quoting, and being quoted (issue 12, item 8; decision 0064), against a peer that speaks FEP-044f as
Mastodon 4.5 does: its Notes publish ``interactionPolicy.canQuote``; it answers our ``QuoteRequest`` with
``Accept`` whose ``result`` is its ``QuoteAuthorization`` (``AcceptQuoteRequestSerializer``); and it asks us with
a ``QuoteRequest`` (``QuoteRequestSerializer``: ``object`` our post, ``instrument`` its quoting post)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from fediverse.social import actions
from storage.models import Account, Post, QuoteState, Visibility
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.federation.conftest import (
    AS2,
    PUBLIC,
    act,
    drain,
    publish,
    query,
    remote_follows,
    remote_note,
    send_activity,
)
from tests.interop.readers import reading_with_active_boxes
from tests.peers import FakePeer, PeerActor

LD_MEDIA_TYPE = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'


def rins_post(client: TestClient, peer: FakePeer, rin: PeerActor, **policy: list[str]) -> Post:
    """rin's public post, whose ``canQuote`` is ``policy``, known here."""
    note = remote_note(rin, 7, "<p>a thought</p>", interactionPolicy={"canQuote": policy})
    peer.add_object(note)
    post: Post = run_in_app(client, services_of(client).resolver.note, note["id"])
    return post


def quoting(client: TestClient, quoted: Post) -> Post:
    return publish(client, "ana", "so true", quote_of=quoted)


def state_of(client: TestClient, post: Post) -> tuple[str | None, str | None]:
    ((state, authorization),) = query(
        client, select(Post.quote_state, Post.quote_authorization).where(Post.id == post.id)
    )
    return state, authorization


def test_quoting_a_post_its_policy_approves_sends_a_note_with_every_quote_term(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given rin's post that anyone may quote, and rin following ana
    make_user("ana")
    rin = peer.add_actor("rin")
    remote_follows(client, peer, rin, "ana")
    quoted = rins_post(client, peer, rin, automaticApproval=[PUBLIC])
    # When ana quotes it
    post = quoting(client, quoted)
    drain(client)
    # Then the quote is accepted at once: no QuoteRequest
    assert state_of(client, post) == (QuoteState.ACCEPTED, None)
    assert peer.activities("QuoteRequest") == []
    # And rin's server gets a Note with FEP-044f's quote, Fedibird's and Misskey's keys, a FEP-e232 link and the
    # RE: fallback, and our own canQuote policy
    (create,) = [item for item in peer.activities("Create") if item["object"]["id"] == post.ap_id]
    note = create["object"]
    assert note["quote"] == note["quoteUri"] == note["_misskey_quote"] == quoted.ap_id
    assert "quoteAuthorization" not in note
    assert {"type": "Link", "mediaType": LD_MEDIA_TYPE, "href": quoted.ap_id, "name": f"RE: {quoted.ap_id}"} in note[
        "tag"
    ]
    assert f'<p class="quote-inline">RE: <a href="{quoted.url}">' in note["content"]
    assert note["interactionPolicy"]["canQuote"] == {"automaticApproval": [PUBLIC]}  # beside canReply… (0063)
    # And an independent reader parses it
    reading_with_active_boxes(create)


def test_a_post_that_asks_to_be_asked_gets_a_quote_request_and_its_accept_brings_the_authorization(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    rin = peer.add_actor("rin")
    remote_follows(client, peer, rin, "ana")
    quoted = rins_post(client, peer, rin, automaticApproval=[rin.id], manualApproval=[PUBLIC])
    # When ana quotes it
    post = quoting(client, quoted)
    drain(client)
    # Then the quote is pending and rin gets a QuoteRequest (object: rin's post, instrument: ana's)
    assert state_of(client, post) == (QuoteState.PENDING, None)
    (request,) = peer.activities("QuoteRequest")
    assert request["actor"] == f"{TEST_BASE_URL}/users/ana"
    assert request["object"] == quoted.ap_id and request["instrument"] == post.ap_id
    # And ana's page shows the quote as pending, not the quoted post
    # When rin's server accepts, with its QuoteAuthorization as the result (Mastodon's shape)
    authorization = f"{rin.id}/quote_authorizations/1"
    accept = {
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            {"QuoteRequest": "https://w3id.org/fep/044f#QuoteRequest"},
        ],
        "id": f"{rin.id}#accepts/quote_requests/1",
        "type": "Accept",
        "actor": rin.id,
        "object": {key: request[key] for key in ("id", "type", "actor", "object", "instrument")},
        "result": authorization,
    }
    assert send_activity(client, peer, rin, accept) == 202
    drain(client)
    # Then the quote is approved, and its Note is sent again carrying quoteAuthorization
    assert state_of(client, post) == (QuoteState.ACCEPTED, authorization)
    (update,) = [item for item in peer.activities("Update") if item["object"]["id"] == post.ap_id]
    assert update["object"]["quoteAuthorization"] == authorization
    served = client.get(post.ap_id, headers=AS2).json()
    assert served["quoteAuthorization"] == authorization


def test_a_rejected_quote_request_shows_the_quote_as_not_approved(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    rin = peer.add_actor("rin")
    quoted = rins_post(client, peer, rin, automaticApproval=[rin.id], manualApproval=[PUBLIC])
    post = quoting(client, quoted)
    drain(client)
    (request,) = peer.activities("QuoteRequest")
    reject = {"id": f"{rin.id}#rejects/quote_requests/1", "type": "Reject", "actor": rin.id, "object": request}
    assert send_activity(client, peer, rin, reject) == 202
    drain(client)
    assert state_of(client, post) == (QuoteState.REJECTED, None)
    page = client.get(f"/@ana/{post.id}").text
    assert "Quote not approved by the author" in page and "a thought" not in page


def quote_request(peer_actor: PeerActor, quoted_id: str, number: int = 1) -> dict[str, Any]:
    """Mastodon 4.5's ``QuoteRequestSerializer``."""
    return {
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            {"QuoteRequest": "https://w3id.org/fep/044f#QuoteRequest"},
        ],
        "id": f"{peer_actor.id}#quote_requests/{number}",
        "type": "QuoteRequest",
        "actor": peer_actor.id,
        "object": quoted_id,
        "instrument": f"{peer_actor.id}/statuses/{100 + number}",
    }


def test_a_quote_request_for_a_public_post_is_accepted_with_an_authorization_we_serve(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    koi = peer.add_actor("koi")
    ours = publish(client, "ana", "quote me")
    # Our Note publishes who may quote it
    served = client.get(ours.ap_id, headers=AS2).json()
    assert served["interactionPolicy"]["canQuote"] == {"automaticApproval": [PUBLIC]}
    # When koi's server asks to quote it
    request = quote_request(koi, ours.ap_id)
    assert send_activity(client, peer, koi, request) == 202
    drain(client)
    # Then it gets an Accept embedding its request, whose result is our QuoteAuthorization
    (accept,) = peer.activities("Accept")
    assert accept["actor"] == f"{TEST_BASE_URL}/users/ana"
    assert accept["object"]["id"] == request["id"] and accept["object"]["instrument"] == request["instrument"]
    stamp = client.get(accept["result"].removeprefix(TEST_BASE_URL), headers=AS2)
    assert stamp.status_code == 200
    document = stamp.json()
    assert document["type"] == "QuoteAuthorization"
    assert document["attributedTo"] == f"{TEST_BASE_URL}/users/ana"
    assert document["interactingObject"] == request["instrument"]
    assert document["interactionTarget"] == ours.ap_id
    # And asking again answers with the same authorization
    assert send_activity(client, peer, koi, {**request, "id": request["id"] + "b"}) == 202
    drain(client)
    assert peer.activities("Accept")[-1]["result"] == accept["result"]
    # When ana deletes the post, the authorization is withdrawn
    act(client, actions.delete_post, "ana", ours.ap_id)
    drain(client)
    assert client.get(accept["result"].removeprefix(TEST_BASE_URL), headers=AS2).status_code == 410


def test_a_quote_request_for_a_followers_only_post_is_rejected(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    koi = peer.add_actor("koi")
    remote_follows(client, peer, koi, "ana")
    ours = publish(client, "ana", "for friends", visibility=Visibility.FOLLOWERS)
    served = client.get(ours.ap_id, headers=peer.signed_get_headers(koi, ours.ap_id) | AS2).json()
    assert served["interactionPolicy"]["canQuote"] == {"automaticApproval": [f"{TEST_BASE_URL}/users/ana"]}
    assert send_activity(client, peer, koi, quote_request(koi, ours.ap_id)) == 202
    drain(client)
    (reject,) = peer.activities("Reject")
    assert reject["object"]["type"] == "QuoteRequest" and "result" not in reject

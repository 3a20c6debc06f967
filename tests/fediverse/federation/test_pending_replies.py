"""A local reply waiting for the approval of the remote author it answers (GoToSocial's flow, decision 0063)
is for its own author alone (and the author it answers) until approved, as GoToSocial's documentation asks;
a rejected one too. The one read rule (``core/visibility.py``) says so, so the post page, the client API's
status, context and timelines, and the streaming API all agree. The peer speaks GoToSocial's shapes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from fediverse.social import actions
from fediverse.social.posts import PostDraft
from storage.models import Account, Post
from tests.conftest import TEST_BASE_URL
from tests.fediverse.client_api.conftest import token_for  # noqa: F401 (a fixture, used by name)
from tests.fediverse.federation.conftest import act, deliver, drain
from tests.fediverse.federation.test_interaction_policy import _policied_note
from tests.fediverse.web.conftest import BROWSER, PASSWORD, sign_in
from tests.peers import FakePeer

Tokens = Callable[..., dict[str, str]]


def _answer(kind: str, zork_id: str, reply: Post, number: int) -> dict[str, Any]:
    """GoToSocial's Accept or Reject of bob's reply (as ``InteractionReqToASAccept`` writes them)."""
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "actor": zork_id,
        "id": f"{zork_id}/{kind.lower()}s/0{number}",
        "object": reply.ap_id,
        "to": f"{TEST_BASE_URL}/users/bob",
        "type": kind,
    }


def _seen(client: TestClient, headers: dict[str, str], reply: Post, parent: Post) -> dict[str, bool]:
    """Where a reader finds bob's reply: its status, the thread's context, the home and public timelines."""
    status = client.get(f"/api/v1/statuses/{reply.id}", headers=headers)
    context = client.get(f"/api/v1/statuses/{parent.id}/context", headers=headers).json()
    home = client.get("/api/v1/timelines/home", headers=headers).json()
    public = client.get("/api/v1/timelines/public", headers=headers).json()
    rid = str(reply.id)
    return {
        "status": status.status_code == 200,
        "context": rid in [s["id"] for s in context["descendants"]],
        "home": rid in [s["id"] for s in home],
        "public": rid in [s["id"] for s in public],
    }


def test_a_pending_reply_is_its_authors_alone_until_approved(
    client: TestClient,
    peer: FakePeer,
    make_user: Callable[..., Account],
    token_for: Tokens,  # noqa: F811
) -> None:
    users = {name: make_user(name, password=PASSWORD) for name in ("ana", "bob", "cai")}
    act(client, actions.follow, "cai", "bob")
    zork, parent = _policied_note(client, peer)  # ana follows zork, whose note wants approval of bob's replies
    cai = token_for(users["cai"])
    stream_url = f"/api/v1/streaming?access_token={cai['Authorization'].removeprefix('Bearer ')}&stream=user"
    with client.websocket_connect(stream_url) as ws:
        # When bob replies (waiting), then posts something else
        reply = act(client, actions.publish, "bob", PostDraft(caption="may I?", in_reply_to=parent))
        plain = act(client, actions.publish, "bob", PostDraft(caption="meanwhile"))
        # Then cai's stream carries the plain post only
        event = ws.receive_json()
        assert json.loads(event["payload"])["id"] == str(plain.id)
    drain(client)
    # And bob sees his reply, waiting; cai (his follower), ana (in the thread) and a visitor do not
    mine = client.get(f"/api/v1/statuses/{reply.id}", headers=token_for(users["bob"])).json()
    assert mine["reverie"]["approval"] == "pending"
    assert _seen(client, token_for(users["bob"]), reply, parent)["context"]
    for reader in ("cai", "ana"):
        assert not any(_seen(client, token_for(users[reader]), reply, parent).values()), reader
    page = f"/@bob/{reply.id}"
    assert client.get(page, headers=BROWSER).status_code == 404
    sign_in(client, "bob")
    assert "Waiting for approval" in client.get(page, headers=BROWSER).text
    client.cookies.clear()
    sign_in(client, "cai")
    assert client.get(page, headers=BROWSER).status_code == 404
    # And the reply's ActivityPub document is not served to anyone but the author it answers
    assert client.get(
        reply.ap_id.removeprefix(TEST_BASE_URL), headers={"Accept": "application/activity+json"}
    ).status_code in (401, 403, 404)
    # When zork accepts it
    deliver(client, peer, zork, _answer("Accept", zork.id, reply, 1))
    # Then everyone it is for sees it
    seen = _seen(client, token_for(users["cai"]), reply, parent)
    assert seen["status"] and seen["context"]
    assert client.get(page, headers=BROWSER).status_code == 200
    # When bob's next reply is rejected, it stays his alone, marked so
    second = act(client, actions.publish, "bob", PostDraft(caption="again?", in_reply_to=parent))
    deliver(client, peer, zork, _answer("Reject", zork.id, second, 2))
    assert not any(_seen(client, token_for(users["cai"]), second, parent).values())
    status = client.get(f"/api/v1/statuses/{second.id}", headers=token_for(users["bob"])).json()
    assert status["reverie"]["approval"] == "rejected"

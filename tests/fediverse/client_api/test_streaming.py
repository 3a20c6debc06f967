"""The streaming API (decision 0057): WebSocket and server-sent events, as Mastodon's clients use them.

The first part drives the app in this process (Starlette's test client speaks WebSocket; an event stream
never ends, so only its refusals are asked of it here). The second part (``slow``) runs real ``reverie
serve`` processes and listens with the ``websockets`` library and httpx while posts, likes, follows and
deletes are made by other processes: the command line, this test process, a second web process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from fediverse.social import actions
from fediverse.social.posts import PostDraft
from fediverse.web.client_api import stream_hub
from fediverse.web.client_api.auth import Caller
from fediverse.web.client_api.stream_events import Message, Stream
from fediverse.web.client_api.stream_hub import StreamHub, Subscriber
from storage.models import Account, OAuthToken, Post
from storage.types import utcnow
from tests.conftest import run_in_app, services_of
from tests.fediverse.housekeeping.helpers import sweep_now

Mint = Callable[..., dict[str, str]]


# --- helpers -----------------------------------------------------------------------------------------


def access_token(token_for: Mint, account: Account | None, scopes: str = "read write follow") -> str:
    return token_for(account, scopes)["Authorization"].removeprefix("Bearer ")


def act(client: TestClient, action: Callable[..., Any], *args: Any, **options: Any) -> Any:
    async def run() -> Any:
        return await action(services_of(client), *args, **options)

    return run_in_app(client, run)


def publish(client: TestClient, username: str, caption: str, **draft: Any) -> Post:
    post: Post = act(client, actions.publish, username, PostDraft(caption=caption, **draft))
    return post


def receive(ws: Any) -> dict[str, Any]:
    """The next event, its payload parsed when it is a document."""
    event: dict[str, Any] = ws.receive_json()
    if isinstance(event.get("payload"), str) and event["payload"].startswith("{"):
        event["document"] = json.loads(event["payload"])
    return event


@pytest.fixture
def people(client: TestClient, make_user: Callable[..., Account]) -> dict[str, Account]:
    """ana follows bob; carl is a stranger to both."""
    found = {name: make_user(name) for name in ("ana", "bob", "carl")}
    act(client, actions.follow, "ana", "bob")
    return found


@pytest.fixture
def stream(client: TestClient, token_for: Mint) -> Callable[..., Any]:
    """``stream(account, "user", scopes=…)``: a WebSocket subscribed to a first stream."""

    def open_stream(account: Account, first: str | None = "user", scopes: str = "read", **query: str) -> Any:
        parts = {"access_token": access_token(token_for, account, scopes), **query}
        if first is not None:
            parts["stream"] = first
        return client.websocket_connect("/api/v1/streaming?" + "&".join(f"{k}={v}" for k, v in parts.items()))

    return open_stream


# --- in-process: what each stream carries -------------------------------------------------------------


def test_a_followed_accounts_post_reaches_the_user_and_local_streams(
    client: TestClient, people: dict[str, Account], stream: Callable[..., Any]
) -> None:
    with stream(people["ana"], "user") as ws:
        ws.send_json({"type": "subscribe", "stream": "public:local"})
        post = publish(client, "bob", "a lighthouse at dusk")
        first, second = receive(ws), receive(ws)
    assert {tuple(first["stream"]), tuple(second["stream"])} == {("user",), ("public:local",)}
    for event in (first, second):
        assert event["event"] == "update"
        assert event["document"]["id"] == str(post.id)
        assert event["document"]["account"]["acct"] == "bob"
        assert "a lighthouse at dusk" in event["document"]["content"]


def test_private_posts_reach_only_those_allowed(
    client: TestClient, people: dict[str, Account], stream: Callable[..., Any]
) -> None:
    """carl follows nobody: neither his stream nor the public ones carry bob's followers-only post;
    ana, bob's follower, gets it on her user stream (and not on the public one)."""
    with stream(people["carl"], "public") as carl, stream(people["ana"], "user") as ana:
        ana.send_json({"type": "subscribe", "stream": "public"})
        hidden = publish(client, "bob", "for my followers", visibility="followers")
        event = receive(ana)
        assert (event["stream"], event["document"]["id"]) == (["user"], str(hidden.id))
        shown = publish(client, "bob", "for everyone")
        assert receive(carl)["document"]["id"] == str(shown.id)
        later = [receive(ana), receive(ana)]
    assert {(tuple(event["stream"]), event["document"]["id"]) for event in later} == {
        (("user",), str(shown.id)),
        (("public",), str(shown.id)),
    }


def test_blocks_and_mutes_hold_on_the_public_stream(
    client: TestClient, people: dict[str, Account], stream: Callable[..., Any]
) -> None:
    act(client, actions.mute, "ana", "carl")
    act(client, actions.block, "carl", "bob")
    with stream(people["ana"], "public") as ana, stream(people["carl"], "public") as carl:
        carls = publish(client, "carl", "muted by ana")
        bobs = publish(client, "bob", "blocked by carl")
        anas = publish(client, "ana", "seen by both")
        assert [receive(ana)["document"]["id"] for _ in range(2)] == [str(bobs.id), str(anas.id)]
        assert [receive(carl)["document"]["id"] for _ in range(2)] == [str(carls.id), str(anas.id)]


def test_notifications_come_on_the_user_stream_with_the_scope(
    client: TestClient, people: dict[str, Account], stream: Callable[..., Any]
) -> None:
    post = publish(client, "ana", "a quiet pond")
    with (
        stream(people["ana"], "user", scopes="read") as full,
        stream(people["ana"], "user", scopes="read:statuses") as statuses_only,
    ):
        act(client, actions.like, "bob", post.ap_id)
        event = receive(full)
        assert (event["stream"], event["event"]) == (["user"], "notification")
        note = event["document"]
        assert note["type"] == "favourite" and note["account"]["acct"] == "bob"
        assert note["status"]["id"] == str(post.id)
        # the token without read:notifications hears the next post, and never heard of the like
        nxt = publish(client, "ana", "another pond")
        assert receive(statuses_only)["document"]["id"] == str(nxt.id)


def test_the_notification_stream_carries_follows(
    client: TestClient, people: dict[str, Account], stream: Callable[..., Any]
) -> None:
    with stream(people["bob"], "user:notification", scopes="read:notifications") as ws:
        act(client, actions.follow, "carl", "bob")
        event = receive(ws)
    assert (event["stream"], event["event"]) == (["user:notification"], "notification")
    assert event["document"]["type"] == "follow"
    assert event["document"]["account"]["acct"] == "carl"
    assert "status" not in event["document"]


def test_deletes_edits_and_undone_boosts(
    client: TestClient, people: dict[str, Account], stream: Callable[..., Any]
) -> None:
    post = publish(client, "bob", "first words")
    with stream(people["ana"], "user") as ws:
        act(client, actions.edit_post, "bob", post.ap_id, caption="better words")
        edited = receive(ws)
        assert (edited["event"], edited["document"]["id"]) == ("status.update", str(post.id))
        assert "better words" in edited["document"]["content"] and edited["document"]["edited_at"]
        act(client, actions.boost, "bob", post.ap_id)
        boost = receive(ws)
        assert boost["event"] == "update" and boost["document"]["reblog"]["id"] == str(post.id)
        act(client, actions.unboost, "bob", post.ap_id)
        assert receive(ws) == {"stream": ["user"], "event": "delete", "payload": boost["document"]["id"]}
        act(client, actions.delete_post, "bob", post.ap_id)
        assert receive(ws) == {"stream": ["user"], "event": "delete", "payload": str(post.id)}


def test_hashtag_streams(client: TestClient, people: dict[str, Account], stream: Callable[..., Any]) -> None:
    with stream(people["carl"], "hashtag", tag="Lighthouses") as ws:
        ws.send_json({"type": "subscribe", "stream": "hashtag:local", "tag": "#lighthouses"})
        publish(client, "bob", "no tags here")
        tagged = publish(client, "bob", "dusk #LightHouses")
        events = [receive(ws), receive(ws)]
    assert {tuple(event["stream"]) for event in events} == {
        ("hashtag", "Lighthouses"),
        ("hashtag:local", "#lighthouses"),
    }
    assert {event["document"]["id"] for event in events} == {str(tagged.id)}


def test_unsubscribe_stops_a_stream(client: TestClient, people: dict[str, Account], stream: Callable[..., Any]) -> None:
    with stream(people["ana"], "public") as ws:
        ws.send_json({"type": "subscribe", "stream": "user"})
        ws.send_json({"type": "unsubscribe", "stream": "public"})
        ws.send_json({"type": "subscribe", "stream": "user"})  # twice is once
        post = publish(client, "bob", "only once")
        event = receive(ws)
        assert (event["stream"], event["document"]["id"]) == (["user"], str(post.id))
        nxt = publish(client, "bob", "and again once")
        assert receive(ws)["document"]["id"] == str(nxt.id)


# --- in-process: refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["stream=user&access_token=nonsense", "stream=user"])
def test_a_websocket_without_a_valid_token_is_refused(client: TestClient, query: str) -> None:
    with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect(f"/api/v1/streaming?{query}"):
        pass
    assert refused.value.status_code == 401
    assert "error" in refused.value.json()


def test_an_apps_own_token_is_refused(client: TestClient, token_for: Mint) -> None:
    url = f"/api/v1/streaming?access_token={access_token(token_for, None, 'read')}"
    with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect(url):
        pass
    assert refused.value.status_code == 401


def test_the_token_may_come_as_the_websocket_protocol(
    client: TestClient, people: dict[str, Account], token_for: Mint
) -> None:
    token = access_token(token_for, people["ana"], "read")
    with client.websocket_connect("/api/v1/streaming/?stream=user", subprotocols=[token]) as ws:
        assert ws.accepted_subprotocol == token
        post = publish(client, "bob", "via the protocol header")
        assert receive(ws)["document"]["id"] == str(post.id)


def test_bad_subscriptions_are_answered_as_mastodon_does(
    client: TestClient, people: dict[str, Account], stream: Callable[..., Any]
) -> None:
    with stream(people["ana"], "nonsense", scopes="read:statuses") as ws:
        assert ws.receive_json() == {"error": "Unknown stream type", "status": 400}
        ws.send_text("not json")
        ws.send_json(["not", "an", "object"])
        ws.send_json({"type": "dance"})
        ws.send_json({"type": "subscribe", "stream": "hashtag"})
        assert ws.receive_json() == {"error": "Missing tag name parameter", "status": 400}
        ws.send_json({"type": "subscribe", "stream": ["hashtag", "x"], "tag": 7})
        assert ws.receive_json() == {"error": "Missing tag name parameter", "status": 400}
        ws.send_json({"type": "subscribe", "stream": "user:notification"})
        refused = ws.receive_json()
        assert refused["status"] == 403 and "read:notifications" in refused["error"]
        ws.send_json({"type": "unsubscribe", "stream": 12})
        assert ws.receive_json() == {"error": "Error unsubscribing from channel"}
        ws.send_bytes(b"\x00")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1003


@pytest.mark.parametrize(
    ("path", "scopes", "status"),
    [
        ("/api/v1/streaming/user", None, 401),
        ("/api/v1/streaming/public?access_token=nonsense", None, 401),
        ("/api/v1/streaming/user/notification", "read:statuses", 403),
        ("/api/v1/streaming/user", "write", 403),
        ("/api/v1/streaming/hashtag", "read", 400),
        ("/api/v1/streaming/hashtag/local?tag=%23", "read", 400),
        ("/api/v1/streaming/nowhere", "read", 404),
    ],
)
def test_event_stream_refusals(
    client: TestClient, people: dict[str, Account], token_for: Mint, path: str, scopes: str | None, status: int
) -> None:
    headers = token_for(people["ana"], scopes) if scopes else {}
    response = client.get(path, headers=headers)
    assert response.status_code == status
    assert "error" in response.json()


def test_health(client: TestClient) -> None:
    response = client.get("/api/v1/streaming/health")
    assert (response.status_code, response.text) == (200, "OK")


# --- in-process: the hub's own promises -------------------------------------------------------------------


def test_a_revoked_token_ends_its_stream(
    client: TestClient, people: dict[str, Account], stream: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_hub, "TOKEN_CHECK_SECONDS", 0.0)
    with stream(people["ana"], "user") as ws:

        async def revoke() -> None:
            async with services_of(client).db.transaction() as session:
                for row in (await session.scalars(select(OAuthToken))).all():
                    await session.delete(row)

        run_in_app(client, revoke)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1008


def test_the_poller_runs_only_while_someone_listens(
    client: TestClient, people: dict[str, Account], stream: Callable[..., Any]
) -> None:
    hub: StreamHub = client.app_state["stream_hub"]
    with stream(people["ana"], "user") as ws:
        publish(client, "ana", "hello")
        receive(ws)
        assert hub.subscribers == 1
    wait_for(lambda: hub.subscribers == 0 and (hub._task is None or hub._task.done()))


def wait_for(check: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_subscriber_too_far_behind_is_closed() -> None:
    """The queue is bounded: overflowing it closes the subscriber instead of growing."""
    ana = Account(id=1, username="ana", actor_id=1)
    token = OAuthToken(id=1, token_hash="x", app_id=1, account_id=1, scopes="read")
    subscriber = Subscriber(Caller(token=token, account=ana, scopes=frozenset({"read"})), limit=3)
    subscriber.streams[Stream("user")] = ["user"]
    for number in range(4):
        subscriber.offer(["user"], Message("delete", str(number)))
    assert subscriber.closed == stream_hub.TOO_SLOW


def test_post_changes_are_swept_after_an_hour(client: TestClient, people: dict[str, Account]) -> None:
    post = publish(client, "bob", "soon gone")
    act(client, actions.delete_post, "bob", post.ap_id)
    assert sweep_now(client).post_changes == 0
    assert sweep_now(client, utcnow() + timedelta(hours=2)).post_changes == 1

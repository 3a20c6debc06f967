"""The streaming API (decision 0057): WebSocket and server-sent events, as Mastodon's clients use them.

The first part drives the app in this process (Starlette's test client speaks WebSocket; an event stream
never ends, so only its refusals are asked of it here). The second part (``slow``) runs real ``reverie
serve`` processes and listens with the ``websockets`` library and httpx while posts, likes, follows and
deletes are made by other processes: the command line, this test process, a second web process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from fediverse.core.accounts import create_account
from fediverse.core.config import load_settings
from fediverse.services import Services, open_services
from fediverse.social import actions
from fediverse.social.posts import PostDraft
from fediverse.web.client_api import stream_hub
from fediverse.web.client_api.auth import Caller, hash_token, issue_token, new_secret
from fediverse.web.client_api.stream_events import Message, Stream
from fediverse.web.client_api.stream_hub import StreamHub, Subscriber
from storage.models import Account, OAuthApp, OAuthToken, Post, WebSession
from storage.types import utcnow
from tests.conftest import run_in_app, services_of
from tests.fediverse.housekeeping.helpers import sweep_now
from tests.processes import free_port, reverie_server, run_reverie

Mint = Callable[..., dict[str, str]]
T = TypeVar("T")


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


# --- real processes -------------------------------------------------------------------------------------

DEADLINE = 30.0


def in_instance(env: dict[str, str], work: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``work`` against a running instance's database from this process (another process, to it)."""

    async def run() -> T:
        async with open_services(load_settings(env)) as services:
            return await work(services)

    return asyncio.run(run())


async def _mint_token(services: Services, username: str, scopes: str) -> str:
    account, _ = await actions.load_account(services, username)
    async with services.db.transaction() as session:
        app = OAuthApp(
            client_id=new_secret(), client_secret_hash=hash_token(new_secret()), name="Streams", scopes=scopes
        )
        session.add(app)
        await session.flush()
        app_id = app.id
    assert app_id is not None and account.id is not None
    access, _, _ = await issue_token(services, app_id, account.id, scopes)
    return access


async def _mint_session(services: Services, username: str) -> tuple[str, str]:
    """A signed-in browser session (cookie value, CSRF token), as signing in would store it."""
    account, _ = await actions.load_account(services, username)
    assert account.id is not None
    cookie, csrf = new_secret(), new_secret()
    async with services.db.transaction() as session:
        session.add(
            WebSession(
                token_hash=hash_token(cookie),
                account_id=account.id,
                csrf_token=csrf,
                expires_at=utcnow() + timedelta(days=1),
            )
        )
    return cookie, csrf


@dataclass
class Instance:
    env: dict[str, str]

    def run(self, work: Callable[[Services], Awaitable[T]]) -> T:
        return in_instance(self.env, work)

    def act(self, action: Callable[..., Awaitable[Any]], *args: Any, **options: Any) -> Any:
        async def work(services: Services) -> Any:
            return await action(services, *args, **options)

        return self.run(work)

    def token(self, username: str, scopes: str = "read") -> str:
        return self.run(lambda services: _mint_token(services, username, scopes))

    def reverie(self, *arguments: str) -> str:
        result = run_reverie(*arguments, env=self.env, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout


def instance_env(tmp_path: Path, database_url: str, port: int) -> dict[str, str]:
    return {
        "REVERIE_BASE_URL": f"http://127.0.0.1:{port}",
        "REVERIE_DATA_DIR": str(tmp_path / "data"),
        "REVERIE_DATABASE_URL": database_url,
    }


def with_people(instance: Instance) -> None:
    """ana follows bob; carl is a stranger."""

    async def create(services: Services) -> None:
        for name in ("ana", "bob", "carl"):
            await create_account(services.db, services.urls, name)
        await actions.follow(services, "ana", "bob")

    instance.run(create)


def websocket(base_url: str, query: str = "", **options: Any) -> ClientConnection:
    return connect(base_url.replace("http://", "ws://") + "/api/v1/streaming" + query, open_timeout=DEADLINE, **options)


def next_event(ws: ClientConnection) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(ws.recv(timeout=DEADLINE))
    if isinstance(event.get("payload"), str) and event["payload"].startswith("{"):
        event["document"] = json.loads(event["payload"])
    return event


class EventStream:
    """A server-sent-events response read on a thread; ``next()`` gives (event, parsed data)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._client = httpx.Client(timeout=httpx.Timeout(DEADLINE, read=None))
        self._response = self._client.send(self._client.build_request("GET", url, headers=headers), stream=True)
        assert self._response.status_code == 200, self._response.read()
        assert self._response.headers["content-type"].startswith("text/event-stream")
        self._lines = self._response.iter_lines()
        assert next(self._lines) == ":)"  # joined: what is posted from now on is streamed
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        event = None
        with contextlib.suppress(Exception):  # the test closed the response under the reader
            for line in self._lines:
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event is not None:
                    data = line.removeprefix("data: ")
                    self.events.put((event, json.loads(data) if data.startswith("{") else data))
                    event = None

    def next(self) -> tuple[str, Any]:
        return self.events.get(timeout=DEADLINE)

    def close(self) -> None:
        self._response.close()
        self._client.close()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def event_stream(url: str, headers: dict[str, str] | None = None) -> Iterator[EventStream]:
    stream = EventStream(url, headers)
    try:
        yield stream
    finally:
        stream.close()


@pytest.mark.slow
def test_a_real_server_streams_posts_notifications_and_deletes(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    instance = Instance(instance_env(tmp_path, database_url, port))
    with_people(instance)
    ana, bob = instance.token("ana"), instance.token("bob", "read:notifications")
    with reverie_server(
        "serve", "--port", str(port), env=instance.env, port=port, log=tmp_path / "serve.log"
    ) as server:
        base = server.base_url
        # Without a valid token: a refused upgrade, and a 401 for an event stream
        with pytest.raises(InvalidStatus) as refused, websocket(base, "?stream=user&access_token=nonsense"):
            pass
        assert refused.value.response.status_code == 401
        unauthorised = httpx.get(f"{base}/api/v1/streaming/public", timeout=DEADLINE)
        assert unauthorised.status_code == 401 and "error" in unauthorised.json()
        assert httpx.get(f"{base}/api/v1/streaming/health", timeout=DEADLINE).text == "OK"

        # ana listens on a WebSocket (token as its protocol) and an event stream; bob to his notifications
        with (
            websocket(base, "/?stream=user", subprotocols=[Subprotocol(ana)]) as ws,
            event_stream(f"{base}/api/v1/streaming/public/local?access_token={ana}") as local,
            event_stream(f"{base}/api/v1/streaming/user/notification", {"Authorization": f"Bearer {bob}"}) as notes,
        ):
            assert ws.subprotocol == ana
            ws.send(json.dumps({"type": "subscribe", "stream": "public:local"}))
            ws.send(json.dumps({"type": "subscribe", "stream": "hashtag", "tag": "Harbour"}))
            # carl's followers-only post reaches nobody here; bob's public one, painted from the terminal, does
            instance.act(actions.publish, "carl", PostDraft(caption="for my followers", visibility="followers"))
            url = instance.reverie("post", "bob", "--prompt", "a harbour at first light", "--caption", "dawn #harbour")
            post_id = url.strip().splitlines()[-1].rsplit("/", 1)[1]
            events = [next_event(ws) for _ in range(3)]
            assert {tuple(event["stream"]) for event in events} == {
                ("user",),
                ("public:local",),
                ("hashtag", "Harbour"),
            }
            assert {(event["event"], event["document"]["id"]) for event in events} == {("update", post_id)}
            assert events[0]["document"]["media_attachments"][0]["type"] == "image"
            event, status = local.next()
            assert (event, status["id"], status["account"]["acct"]) == ("update", post_id, "bob")
            # ana likes it from the terminal: bob is told
            instance.reverie("like", "ana", url.strip().splitlines()[-1])
            event, note = notes.next()
            assert (event, note["type"], note["account"]["acct"], note["status"]["id"]) == (
                "notification",
                "favourite",
                "ana",
                post_id,
            )
            # bob deletes it: every stream that carried it hears so
            instance.act(actions.delete_post, "bob", url.strip().splitlines()[-1])
            deletes = [next_event(ws) for _ in range(3)]
            assert {(event["event"], event["payload"]) for event in deletes} == {("delete", post_id)}
            assert local.next() == ("delete", post_id)


@pytest.mark.slow
def test_a_post_made_through_another_web_process_reaches_the_stream(tmp_path: Path, database_url: str) -> None:
    """Two `reverie serve` processes of one instance on one database: ana listens to the first, bob posts
    through the second. Then the first shuts down and closes ana's WebSocket as it goes."""
    first_port, second_port = free_port(), free_port()
    instance = Instance(instance_env(tmp_path, database_url, first_port))
    with_people(instance)
    ana = instance.token("ana")
    cookie, csrf = instance.run(lambda services: _mint_session(services, "bob"))
    with (
        reverie_server(
            "serve", "--port", str(first_port), env=instance.env, port=first_port, log=tmp_path / "1.log"
        ) as first,
        reverie_server(
            "serve", "--port", str(second_port), env=instance.env, port=second_port, log=tmp_path / "2.log"
        ) as second,
        websocket(first.base_url, f"?stream=user&access_token={ana}") as ws,
    ):
        created = httpx.post(
            f"{second.base_url}/api/posts",
            json={"caption": "from the second process"},
            cookies={"reverie_session": cookie},
            headers={"X-CSRF-Token": csrf},
            timeout=DEADLINE,
        )
        assert created.status_code == 201, created.text
        event = next_event(ws)
        assert (event["stream"], event["event"], event["document"]["id"]) == (["user"], "update", created.json()["id"])
        assert "from the second process" in event["document"]["content"]
        first.process.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=DEADLINE)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012  # "service restart"
        assert first.process.wait(timeout=DEADLINE) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal
        assert "Application shutdown complete" in first.output
        assert "access_token=[hidden]" in first.output and ana not in first.output

"""The ``list`` stream (Mastodon's ``stream=list&list=ID`` and ``/api/v1/streaming/list?list=ID``): what the
list's timeline (``reads.timelines.list_page``) lists, as it is posted, edited and deleted, and nothing
else; another account's list, or a bad id, refused. In process with Starlette's WebSocket client, then
against a real ``reverie serve`` with the ``websockets`` library and an event stream read by httpx."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from fediverse.core.accounts import create_account
from fediverse.social import actions
from fediverse.social.posts import PostDraft
from storage.models import Account
from tests.fediverse.client_api.test_streaming import (
    DEADLINE,
    Instance,
    Mint,
    access_token,
    act,
    event_stream,
    instance_env,
    next_event,
    publish,
    receive,
    websocket,
)
from tests.processes import free_port, reverie_server


def make_list(client: Any, headers: dict[str, str], member_id: int | str) -> str:
    """A list named "friends" with one member, made through the client API; its id."""
    made = client.post("/api/v1/lists", json={"title": "friends"}, headers=headers)
    assert made.status_code == 200, made.text
    list_id = str(made.json()["id"])
    added = client.post(f"/api/v1/lists/{list_id}/accounts", json={"account_ids": [str(member_id)]}, headers=headers)
    assert added.status_code == 200, added.text
    return list_id


@pytest.fixture
def people(client: TestClient, make_user: Callable[..., Account]) -> dict[str, Account]:
    """ana follows bob and carl, and lists bob."""
    found = {name: make_user(name) for name in ("ana", "bob", "carl")}
    act(client, actions.follow, "ana", "bob")
    act(client, actions.follow, "ana", "carl")
    return found


def test_the_list_stream_carries_the_lists_timeline_only(
    client: TestClient, people: dict[str, Account], token_for: Mint
) -> None:
    ana = people["ana"]
    list_id = make_list(client, token_for(ana), people["bob"].actor_id)
    url = f"/api/v1/streaming?access_token={access_token(token_for, ana, 'read')}&stream=list&list={list_id}"
    with client.websocket_connect(url) as ws:
        # carl is followed but not listed: his post is not on the list's stream; bob's is, then its edit and
        # its deletion
        publish(client, "carl", "not for the list")
        post = publish(client, "bob", "for the list")
        event = receive(ws)
        assert (event["stream"], event["event"], event["document"]["id"]) == (["list", list_id], "update", str(post.id))
        act(client, actions.edit_post, "bob", post.ap_id, caption="for the list, again")
        edited = receive(ws)
        assert (edited["event"], edited["document"]["id"]) == ("status.update", str(post.id))
        act(client, actions.delete_post, "bob", post.ap_id)
        assert receive(ws) == {"stream": ["list", list_id], "event": "delete", "payload": str(post.id)}


def test_someone_elses_list_or_a_bad_id_is_refused(
    client: TestClient, people: dict[str, Account], token_for: Mint
) -> None:
    list_id = make_list(client, token_for(people["ana"]), people["bob"].actor_id)
    carl = token_for(people["carl"], "read")
    # An event stream: another's list is 404, a missing or bad id 400, as is an unknown one 404
    for query, status in ((f"list={list_id}", 404), ("", 400), ("list=abc", 400), ("list=99999999", 404)):
        response = client.get(f"/api/v1/streaming/list?{query}", headers=carl)
        assert response.status_code == status, (query, response.text)
        assert "error" in response.json()
    # And a WebSocket says so in an error message, and stays open
    token = access_token(token_for, people["carl"], "read")
    with client.websocket_connect(f"/api/v1/streaming?access_token={token}&stream=list&list={list_id}") as ws:
        assert ws.receive_json() == {"error": "Record not found", "status": 404}
        ws.send_json({"type": "subscribe", "stream": "list", "list": "-1"})
        assert ws.receive_json() == {"error": "Missing list parameter", "status": 400}
    # And a token without read:statuses is refused
    ana_write = token_for(people["ana"], "write")
    assert client.get(f"/api/v1/streaming/list?list={list_id}", headers=ana_write).status_code == 403


@pytest.mark.slow
def test_a_real_server_streams_a_list(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    instance = Instance(instance_env(tmp_path, database_url, port))

    async def create(services: Any) -> None:
        for name in ("ana", "bob", "carl"):
            await create_account(services.db, services.urls, name)
        await actions.follow(services, "ana", "bob")
        await actions.follow(services, "ana", "carl")

    instance.run(create)
    ana = instance.token("ana", "read write")
    with reverie_server(
        "serve", "--port", str(port), env=instance.env, port=port, log=tmp_path / "serve.log"
    ) as server:
        base = server.base_url
        headers = {"Authorization": f"Bearer {ana}"}
        with httpx.Client(base_url=base, timeout=DEADLINE) as http:
            bob_id = http.get("/api/v1/accounts/lookup", params={"acct": "bob"}, headers=headers).json()["id"]
            list_id = make_list(http, headers, bob_id)
        with (
            websocket(base, f"?stream=list&list={list_id}&access_token={ana}") as ws,
            event_stream(f"{base}/api/v1/streaming/list?list={list_id}&access_token={ana}") as sse,
        ):
            instance.act(actions.publish, "carl", PostDraft(caption="not listed"))
            post = instance.act(actions.publish, "bob", PostDraft(caption="listed"))
            event = next_event(ws)
            assert (event["stream"], event["event"], event["document"]["id"]) == (
                ["list", list_id],
                "update",
                str(post.id),
            )
            kind, status = sse.next()
            assert (kind, status["id"]) == ("update", str(post.id))
            instance.act(actions.delete_post, "bob", post.ap_id)
            assert next_event(ws) == {
                "stream": ["list", list_id],
                "event": "delete",
                "payload": str(post.id),
            }
            assert sse.next() == ("delete", str(post.id))

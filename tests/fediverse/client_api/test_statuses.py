"""``/api/v1/statuses``: posting (JSON and forms, media, replies, idempotency), reading under the visibility
rule, deleting for a redraft, source and context, and the refusals a client sees for bad input."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col
from starlette.testclient import TestClient

from fediverse.core.text import MAX_CAPTION_LENGTH
from storage.models import Account, Media, MediaState, Post
from tests.conftest import run_in_app, services_of
from tests.fediverse.client_api.posting import check_status, follow, upload

Headers = Callable[..., dict[str, str]]


def _media(client: TestClient, media_id: int) -> Media:
    async def load() -> Media:
        async with services_of(client).db.session() as session:
            found = await session.get(Media, media_id)
            assert found is not None
            return found

    return run_in_app(client, load)


def _post_count(client: TestClient) -> int:
    async def count() -> int:
        async with services_of(client).db.session() as session:
            return len(list(await session.scalars(select(col(Post.id)).where(col(Post.deleted_at).is_(None)))))

    return run_in_app(client, count)


def test_a_status_posted_as_json_comes_back_in_mastodons_shape(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana = make_user("ana")
    response = client.post(
        "/api/v1/statuses",
        json={
            "status": "a lighthouse at dusk #sea",
            "spoiler_text": "bright",
            "visibility": "unlisted",
            "language": "fr",
            "reverie": {"mood_emoji": "🌊", "mood_word": "drifting"},
        },
        headers=token_for(ana),
    )
    assert response.status_code == 200, response.text
    status = response.json()
    check_status(status)
    assert status["account"]["acct"] == "ana"
    assert "a lighthouse at dusk" in status["content"]
    assert status["visibility"] == "unlisted"
    assert (status["spoiler_text"], status["sensitive"]) == ("bright", True)
    assert status["language"] == "fr"
    assert [tag["name"] for tag in status["tags"]] == ["sea"]
    assert status["reverie"]["mood"] == {"emoji": "🌊", "word": "drifting"}
    assert status["edited_at"] is None and status["favourited"] is False
    # And it reads back the same at its id, also without a token (it is not private)
    shown = client.get(f"/api/v1/statuses/{status['id']}")
    assert shown.status_code == 200
    assert shown.json()["content"] == status["content"]


def test_a_form_post_attaches_the_callers_drafts_in_order(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana = make_user("ana")
    first, second = upload(client, ana, "a red sky"), upload(client, ana, "a green sea")
    response = client.post(
        "/api/v1/statuses",
        data={"status": "two pictures", "media_ids[]": [str(second.id), str(first.id)], "sensitive": "true"},
        headers=token_for(ana),
    )
    assert response.status_code == 200, response.text
    status = response.json()
    check_status(status)
    assert [item["id"] for item in status["media_attachments"]] == [str(second.id), str(first.id)]
    assert [item["description"] for item in status["media_attachments"]] == ["a green sea", "a red sky"]
    assert all(item["url"] and item["type"] == "image" for item in status["media_attachments"])
    assert status["sensitive"] is True
    assert _media(client, first.id or 0).state == MediaState.ATTACHED
    # A draft can be used once only
    again = client.post(
        "/api/v1/statuses", data={"status": "again", "media_ids[]": str(first.id)}, headers=token_for(ana)
    )
    assert again.status_code == 422
    assert "error" in again.json()


def test_another_persons_draft_cannot_be_posted(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    hers = upload(client, ana)
    response = client.post("/api/v1/statuses", json={"media_ids": [str(hers.id)]}, headers=token_for(ben))
    assert response.status_code == 422
    assert _media(client, hers.id or 0).state == MediaState.DRAFT


def test_bad_statuses_are_refused_with_a_clear_error(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana = make_user("ana")
    headers = token_for(ana)
    refused = {
        "empty": ({"status": "   "}, 422),
        "too long": ({"status": "x" * (MAX_CAPTION_LENGTH + 1)}, 422),
        "unknown media": ({"status": "hi", "media_ids": ["123456789"]}, 422),
        "media ids no ids": ({"status": "hi", "media_ids": ["abc"]}, 422),
        "media ids a number too big": ({"status": "hi", "media_ids": [str(2**64)]}, 422),
        "five images": ({"status": "hi", "media_ids": [str(n) for n in range(1, 6)]}, 422),
        "unknown visibility": ({"status": "hi", "visibility": "everyone"}, 422),
        "status not text": ({"status": ["hi"]}, 422),
        "sensitive not a flag": ({"status": "hi", "sensitive": "maybe"}, 422),
        "poll": ({"status": "hi", "poll": {"options": ["a", "b"], "expires_in": 300}}, 422),
        "scheduled": ({"status": "hi", "scheduled_at": "2099-01-01T00:00:00Z"}, 422),
        "reply to an unknown post": ({"status": "hi", "in_reply_to_id": "99999999"}, 404),
        "reply to no id": ({"status": "hi", "in_reply_to_id": "first"}, 422),
        "content warning too long": ({"status": "hi", "spoiler_text": "w" * 501}, 422),
        "a NUL character": ({"status": "h\x00i"}, 422),
        "a NUL character in a nested one": ({"status": "hi", "reverie": {"mood_word": "c\x00lm"}}, 422),
    }
    for name, (body, expected) in refused.items():
        response = client.post("/api/v1/statuses", json=body, headers=headers)
        assert response.status_code == expected, (name, response.status_code, response.text)
        assert isinstance(response.json()["error"], str), name
    for body_text, content_type in (("[1, 2]", "application/json"), ("{not json", "application/json")):
        response = client.post("/api/v1/statuses", content=body_text, headers={**headers, "Content-Type": content_type})
        assert response.status_code == 400, body_text
    response = client.post("/api/v1/statuses", content=b"status=hi", headers={**headers, "Content-Type": "text/csv"})
    assert response.status_code == 415
    assert _post_count(client) == 0


def test_posting_needs_a_user_token_with_the_write_scope(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana = make_user("ana")
    assert client.post("/api/v1/statuses", json={"status": "hi"}).status_code == 401
    bad = client.post("/api/v1/statuses", json={"status": "hi"}, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    read_only = client.post("/api/v1/statuses", json={"status": "hi"}, headers=token_for(ana, "read"))
    assert read_only.status_code == 403
    assert "write:statuses" in read_only.json()["error"]
    app_only = client.post("/api/v1/statuses", json={"status": "hi"}, headers=token_for(None, "write"))
    assert app_only.status_code == 401
    granular = client.post("/api/v1/statuses", json={"status": "hi"}, headers=token_for(ana, "write:statuses"))
    assert granular.status_code == 200
    assert _post_count(client) == 1


def test_the_same_idempotency_key_returns_the_same_status(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    headers = {**token_for(ana), "Idempotency-Key": "key-1"}
    first = client.post("/api/v1/statuses", json={"status": "only once"}, headers=headers)
    second = client.post("/api/v1/statuses", json={"status": "only once"}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    # Another key, or the same key for someone else, is another status
    other = client.post(
        "/api/v1/statuses", json={"status": "again"}, headers={**token_for(ana), "Idempotency-Key": "k2"}
    )
    bens = client.post(
        "/api/v1/statuses", json={"status": "mine"}, headers={**token_for(ben), "Idempotency-Key": "key-1"}
    )
    assert len({first.json()["id"], other.json()["id"], bens.json()["id"]}) == 3
    long_key = {**token_for(ana), "Idempotency-Key": "k" * 400}
    assert (
        client.post("/api/v1/statuses", json={"status": "a"}, headers=long_key).json()["id"]
        == client.post("/api/v1/statuses", json={"status": "b"}, headers=long_key).json()["id"]
    )
    # A key whose status was deleted makes a new one
    client.delete(f"/api/v1/statuses/{first.json()['id']}", headers=token_for(ana))
    third = client.post("/api/v1/statuses", json={"status": "only once"}, headers=headers)
    assert third.status_code == 200 and third.json()["id"] != first.json()["id"]
    assert _post_count(client) == 4


def test_requests_racing_with_one_idempotency_key_make_one_status(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    """Several requests with the same key, in flight at once on the app's event loop, make one post and
    all answer it: the key is claimed in the post's own transaction."""
    ana = make_user("ana")
    headers = {**token_for(ana), "Idempotency-Key": "racing"}
    state = dict(client.app_state)

    async def with_state(scope: Any, receive: Any, send: Any) -> None:
        await client.app({**scope, "state": dict(state)}, receive, send)

    async def race() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as session:
            return list(
                await asyncio.gather(
                    *(session.post("/api/v1/statuses", json={"status": "once"}, headers=headers) for _ in range(6))
                )
            )

    answers = run_in_app(client, race)
    assert [answer.status_code for answer in answers] == [200] * 6, [answer.text for answer in answers]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert _post_count(client) == 1


def test_replies_thread_and_a_hidden_post_cannot_be_answered(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben, cara = make_user("ana"), make_user("ben"), make_user("cara")
    follow(client, "ben", "ana")
    public = client.post("/api/v1/statuses", json={"status": "hello"}, headers=token_for(ana)).json()
    private = client.post(
        "/api/v1/statuses", json={"status": "friends only", "visibility": "private"}, headers=token_for(ana)
    ).json()
    assert private["visibility"] == "private"
    reply = client.post(
        "/api/v1/statuses", json={"status": "hi ana", "in_reply_to_id": public["id"]}, headers=token_for(ben)
    )
    assert reply.status_code == 200
    assert reply.json()["in_reply_to_id"] == public["id"]
    assert reply.json()["in_reply_to_account_id"] == public["account"]["id"]
    # ben follows ana and may answer her followers-only post; cara may not, and learns nothing of it
    assert (
        client.post(
            "/api/v1/statuses", json={"status": "me too", "in_reply_to_id": private["id"]}, headers=token_for(ben)
        ).status_code
        == 200
    )
    refused = client.post(
        "/api/v1/statuses", json={"status": "what?", "in_reply_to_id": private["id"]}, headers=token_for(cara)
    )
    assert refused.status_code == 404
    assert refused.json() == {"error": "Record not found"}
    # The thread, as each of them sees it
    context = client.get(f"/api/v1/statuses/{reply.json()['id']}/context", headers=token_for(cara)).json()
    assert [item["id"] for item in context["ancestors"]] == [public["id"]]
    assert context["descendants"] == []
    below = client.get(f"/api/v1/statuses/{public['id']}/context").json()
    assert [item["id"] for item in below["descendants"]] == [reply.json()["id"]]
    assert client.get(f"/api/v1/statuses/{public['id']}", headers=token_for(ana)).json()["replies_count"] == 1


def test_who_may_read_a_status(client: TestClient, make_user: Callable[..., Account], token_for: Headers) -> None:
    ana, ben, cara = make_user("ana"), make_user("ben"), make_user("cara")
    follow(client, "ben", "ana")
    private = client.post(
        "/api/v1/statuses", json={"status": "friends only", "visibility": "private"}, headers=token_for(ana)
    ).json()
    direct = client.post(
        "/api/v1/statuses", json={"status": "@cara just you", "visibility": "direct"}, headers=token_for(ana)
    ).json()
    assert direct["visibility"] == "direct"
    assert [mention["acct"] for mention in direct["mentions"]] == ["cara"]
    for path in ("", "/context", "/source", "/history", "/favourited_by", "/reblogged_by"):
        # the follower sees the followers-only post; the stranger and a visitor get a 404
        assert client.get(f"/api/v1/statuses/{private['id']}{path}", headers=token_for(ben)).status_code == 200, path
        assert client.get(f"/api/v1/statuses/{private['id']}{path}", headers=token_for(cara)).status_code == 404, path
        assert client.get(f"/api/v1/statuses/{private['id']}{path}").status_code == 404, path
        # the one mentioned sees the direct post, the follower does not
        assert client.get(f"/api/v1/statuses/{direct['id']}{path}", headers=token_for(cara)).status_code == 200, path
        assert client.get(f"/api/v1/statuses/{direct['id']}{path}", headers=token_for(ben)).status_code == 404, path
    # Several at once: only those the caller may see, in the order asked
    many = client.get(
        "/api/v1/statuses", params={"id[]": [direct["id"], private["id"], "123"]}, headers=token_for(cara)
    )
    assert [item["id"] for item in many.json()] == [direct["id"]]
    # Unknown and impossible ids
    assert client.get("/api/v1/statuses/123").status_code == 404
    assert client.get("/api/v1/statuses/99999999999999999999").status_code == 404
    assert client.get("/api/v1/statuses/abc").status_code == 404
    # A token that is sent must be valid, even where none is needed
    assert client.get(f"/api/v1/statuses/{direct['id']}", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_deleting_returns_the_text_for_a_redraft(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    posted = client.post(
        "/api/v1/statuses", json={"status": "a typo #tpyo", "spoiler_text": "cw"}, headers=token_for(ana)
    ).json()
    assert client.get(f"/api/v1/statuses/{posted['id']}/source", headers=token_for(ana)).json() == {
        "id": posted["id"],
        "text": "a typo #tpyo",
        "spoiler_text": "cw",
    }
    # Someone else cannot delete it: it is not found for them
    assert client.delete(f"/api/v1/statuses/{posted['id']}", headers=token_for(ben)).status_code == 404
    assert client.delete(f"/api/v1/statuses/{posted['id']}", headers=token_for(ana, "read")).status_code == 403
    deleted = client.delete(f"/api/v1/statuses/{posted['id']}", headers=token_for(ana))
    assert deleted.status_code == 200
    assert deleted.json()["text"] == "a typo #tpyo"
    assert deleted.json()["spoiler_text"] == "cw"
    check_status(deleted.json())
    assert client.get(f"/api/v1/statuses/{posted['id']}", headers=token_for(ana)).status_code == 404
    assert client.delete(f"/api/v1/statuses/{posted['id']}", headers=token_for(ana)).status_code == 404


def test_muting_a_conversation_answers_that_it_is_not_supported(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana = make_user("ana")
    posted = client.post("/api/v1/statuses", json={"status": "hello"}, headers=token_for(ana)).json()
    response = client.post(f"/api/v1/statuses/{posted['id']}/mute", headers=token_for(ana))
    assert response.status_code == 422
    assert "not supported" in response.json()["error"]
    response = client.post(f"/api/v1/statuses/{posted['id']}/unmute", headers=token_for(ana))
    assert response.status_code == 200
    assert response.json()["muted"] is False
    assert client.post("/api/v1/statuses/123/unmute", headers=token_for(ana)).status_code == 404


def test_an_apps_own_token_reads_as_a_visitor(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana = make_user("ana")
    public = client.post("/api/v1/statuses", json={"status": "for all"}, headers=token_for(ana)).json()
    private = client.post(
        "/api/v1/statuses", json={"status": "friends", "visibility": "private"}, headers=token_for(ana)
    ).json()
    app = token_for(None, "read")
    assert client.get(f"/api/v1/statuses/{public['id']}", headers=app).status_code == 200
    assert client.get(f"/api/v1/statuses/{private['id']}", headers=app).status_code == 404
    assert [item["id"] for item in client.get("/api/v1/timelines/public", headers=app).json()] == [public["id"]]
    # a token without a read scope may not read with it
    assert client.get(f"/api/v1/statuses/{public['id']}", headers=token_for(ana, "write")).status_code == 403
    assert client.get("/api/v1/timelines/home", headers=app).status_code == 401

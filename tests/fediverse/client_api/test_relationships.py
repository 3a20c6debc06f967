"""Relationships through the client API: reading them, follow, block, mute and their undoing, follow
requests, the block, mute and domain-block lists, and familiar followers — with a real fake peer on
127.0.0.1 for what crosses servers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlmodel import col
from starlette.testclient import TestClient

from fediverse.reads.timelines import public_timeline
from fediverse.social import actions
from fediverse.social.profiles import ProfileChanges
from storage.models import Account, Actor, Follow, FollowState, Notification, OutboxActivity, Post
from tests.conftest import run_in_app, services_of
from tests.fediverse.client_api.acting import act
from tests.fediverse.client_api.conftest import token_for
from tests.fediverse.client_api.shapes import (
    FAMILIAR_FOLLOWERS_KEYS,
    MUTED_ACCOUNT_KEYS,
    RELATIONSHIP_KEYS,
    assert_account,
    assert_shape,
)
from tests.fediverse.federation.conftest import (  # the app with loopback peers allowed
    client,
    drain,
    known_actor,
    peer,
    query,
    remote_follows,
    settings,
)
from tests.peers import FakePeer

__all__ = ["client", "peer", "settings", "token_for"]

Tokens = Callable[..., dict[str, str]]
Users = Callable[..., Account]
NOT_FOUND = {"error": "Record not found"}


def _relationship(client: TestClient, headers: dict[str, str], actor_id: int) -> dict[str, object]:
    response = client.get("/api/v1/accounts/relationships", params={"id[]": str(actor_id)}, headers=headers)
    assert response.status_code == 200, response.text
    (found,) = response.json()
    return found  # type: ignore[no-any-return]


def _lock(client: TestClient, username: str) -> None:
    act(
        client,
        actions.update_profile,
        username,
        ProfileChanges(display_name="", bio="", manually_approves_followers=True),
    )


def _remote_actor(client: TestClient, domain: str = "far.example", username: str = "remy") -> Actor:
    services = services_of(client)

    async def add() -> Actor:
        async with services.db.transaction() as session:
            actor = Actor(
                ap_id=f"https://{domain}/users/{username}",
                username=username,
                domain=domain,
                inbox_url=f"https://{domain}/users/{username}/inbox",
                shared_inbox_url=f"https://{domain}/inbox",
                fetched_at=datetime.now(UTC),
            )
            session.add(actor)
            await session.flush()
            return actor

    return run_in_app(client, add)


def test_relationships_of_several_ids(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana, ben, cy = make_user("ana"), make_user("ben"), make_user("cy")
    urls = services_of(client).urls
    act(client, actions.follow, "ana", urls.actor_id("ben"))
    act(client, actions.follow, "cy", urls.actor_id("ana"))
    response = client.get(
        f"/api/v1/accounts/relationships?id[]={ben.actor_id}&id[]=424242&id[]=abc&id[]={cy.actor_id}&id[]={ben.actor_id}",
        headers=token_for(ana, "read:follows"),
    )
    assert response.status_code == 200
    found = response.json()
    assert [item["id"] for item in found] == [str(ben.actor_id), str(cy.actor_id)]
    for item in found:
        assert_shape(item, RELATIONSHIP_KEYS)
    assert found[0]["following"] is True and found[0]["followed_by"] is False
    assert found[0]["showing_reblogs"] is True
    assert found[1]["following"] is False and found[1]["followed_by"] is True
    single = client.get("/api/v1/accounts/relationships", params={"id": str(ben.actor_id)}, headers=token_for(ana))
    assert [item["id"] for item in single.json()] == [str(ben.actor_id)]
    assert client.get("/api/v1/accounts/relationships", headers=token_for(ana)).json() == []
    assert client.get("/api/v1/accounts/relationships").status_code == 401
    assert client.get("/api/v1/accounts/relationships", headers=token_for(ana, "write")).status_code == 403


def test_follow_and_unfollow_a_local_account(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    headers = token_for(ana, "write:follows")
    followed = client.post(f"/api/v1/accounts/{ben.actor_id}/follow", headers=headers)
    assert followed.status_code == 200
    assert_shape(followed.json(), RELATIONSHIP_KEYS)
    assert followed.json()["following"] is True
    again = client.post(f"/api/v1/accounts/{ben.actor_id}/follow", json={"reblogs": False}, headers=headers)
    assert again.json()["following"] is True
    assert _relationship(client, token_for(ben), ana.actor_id)["followed_by"] is True
    unfollowed = client.post(f"/api/v1/accounts/{ben.actor_id}/unfollow", headers=headers)
    assert unfollowed.json()["following"] is False
    assert client.post(f"/api/v1/accounts/{ben.actor_id}/follow", headers=token_for(ana, "read")).status_code == 403
    assert client.post("/api/v1/accounts/424242/follow", headers=headers).json() == NOT_FOUND
    assert client.post("/api/v1/accounts/nope/follow", headers=headers).status_code == 404
    yourself = client.post(f"/api/v1/accounts/{ana.actor_id}/follow", headers=headers)
    assert 400 <= yourself.status_code < 500
    assert "error" in yourself.json()


def test_follow_requests_authorize_and_reject(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana, ben, cy, dee = make_user("ana"), make_user("ben"), make_user("cy"), make_user("dee")
    _lock(client, "ana")
    for who in (ben, cy, dee):
        requested = client.post(f"/api/v1/accounts/{ana.actor_id}/follow", headers=token_for(who))
        assert requested.json()["requested"] is True
        assert requested.json()["following"] is False
    mine = token_for(ana, "read:follows write:follows")
    pending = client.get("/api/v1/follow_requests", headers=mine)
    assert pending.status_code == 200
    assert [item["username"] for item in pending.json()] == ["dee", "cy", "ben"]
    for item in pending.json():
        assert_account(item)
    assert _relationship(client, mine, ben.actor_id)["requested_by"] is True
    first = client.get("/api/v1/follow_requests", params={"limit": 1}, headers=mine)
    assert [item["username"] for item in first.json()] == ["dee"]
    assert 'rel="next"' in first.headers["link"]
    authorized = client.post(f"/api/v1/follow_requests/{ben.actor_id}/authorize", headers=mine)
    assert authorized.status_code == 200
    assert authorized.json()["followed_by"] is True
    assert authorized.json()["requested_by"] is False
    rejected = client.post(f"/api/v1/follow_requests/{cy.actor_id}/reject", headers=mine)
    assert rejected.json()["followed_by"] is False
    assert [item["username"] for item in client.get("/api/v1/follow_requests", headers=mine).json()] == ["dee"]
    # no request from them (any more): Mastodon's 404
    assert client.post(f"/api/v1/follow_requests/{cy.actor_id}/authorize", headers=mine).json() == NOT_FOUND
    assert client.post("/api/v1/follow_requests/31337/reject", headers=mine).status_code == 404
    assert (
        client.post(f"/api/v1/follow_requests/{dee.actor_id}/authorize", headers=token_for(ana, "read")).status_code
        == 403
    )
    verify = client.get("/api/v1/accounts/verify_credentials", headers=token_for(ana)).json()
    assert verify["source"]["follow_requests_count"] == 1


def test_remove_from_followers(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    act(client, actions.follow, "ben", services_of(client).urls.actor_id("ana"))
    removed = client.post(f"/api/v1/accounts/{ben.actor_id}/remove_from_followers", headers=token_for(ana))
    assert removed.status_code == 200
    assert removed.json()["followed_by"] is False
    assert _relationship(client, token_for(ben), ana.actor_id)["following"] is False


def test_block_and_unblock(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    act(client, actions.follow, "ben", services_of(client).urls.actor_id("ana"))
    act(client, actions.follow, "ana", services_of(client).urls.actor_id("ben"))
    headers = token_for(ana, "write:blocks read:blocks")
    blocked = client.post(f"/api/v1/accounts/{ben.actor_id}/block", headers=headers)
    assert blocked.status_code == 200
    assert blocked.json()["blocking"] is True
    assert blocked.json()["following"] is False and blocked.json()["followed_by"] is False
    assert _relationship(client, token_for(ben), ana.actor_id)["blocked_by"] is True
    listed = client.get("/api/v1/blocks", headers=headers)
    assert [item["username"] for item in listed.json()] == ["ben"]
    assert "link" in listed.headers
    assert client.get("/api/v1/blocks", headers=token_for(ana, "read:mutes")).status_code == 403
    assert (
        client.post(f"/api/v1/accounts/{ben.actor_id}/block", headers=token_for(ana, "write:follows")).status_code
        == 403
    )
    # a blocked account cannot follow back
    refused = client.post(f"/api/v1/accounts/{ana.actor_id}/follow", headers=token_for(ben))
    assert refused.status_code == 403
    unblocked = client.post(f"/api/v1/accounts/{ben.actor_id}/unblock", headers=headers)
    assert unblocked.json()["blocking"] is False
    assert client.get("/api/v1/blocks", headers=headers).json() == []


def test_mute_with_and_without_notifications(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana, ben, cy = make_user("ana"), make_user("ben"), make_user("cy")
    headers = token_for(ana, "follow")  # the old broad scope covers mutes
    muted = client.post(
        f"/api/v1/accounts/{ben.actor_id}/mute", json={"notifications": False, "duration": 3600}, headers=headers
    )
    assert muted.status_code == 200
    assert muted.json()["muting"] is True
    assert muted.json()["muting_notifications"] is False
    both = client.post(f"/api/v1/accounts/{cy.actor_id}/mute", headers=headers)
    assert both.json()["muting_notifications"] is True
    listed = client.get("/api/v1/mutes", headers=headers)
    assert [item["username"] for item in listed.json()] == ["cy", "ben"]
    for item in listed.json():
        assert_shape(item, MUTED_ACCOUNT_KEYS)
    assert [item["username"] for item in client.get("/api/v1/mutes", params={"limit": 1}, headers=headers).json()] == [
        "cy"
    ]
    assert client.post(f"/api/v1/accounts/{ben.actor_id}/unmute", headers=headers).json()["muting"] is False
    assert client.get("/api/v1/mutes", headers=token_for(ana, "read:blocks")).status_code == 403
    bad = client.post(
        f"/api/v1/accounts/{ben.actor_id}/mute", content=b"{", headers={**headers, "Content-Type": "application/json"}
    )
    assert bad.status_code == 400


def test_familiar_followers(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana, dee = make_user("ana"), make_user("dee")
    make_user("ben")
    make_user("cy")
    urls = services_of(client).urls
    for follower in ("ben", "cy"):
        act(client, actions.follow, follower, urls.actor_id("dee"))
    act(client, actions.follow, "ana", urls.actor_id("ben"))
    response = client.get(
        "/api/v1/accounts/familiar_followers",
        params=[("id[]", str(dee.actor_id)), ("id[]", "99999")],
        headers=token_for(ana, "read:follows"),
    )
    assert response.status_code == 200
    (found,) = response.json()
    assert_shape(found, FAMILIAR_FOLLOWERS_KEYS)
    assert found["id"] == str(dee.actor_id)
    assert [item["username"] for item in found["accounts"]] == ["ben"]


# --- domain blocks --------------------------------------------------------------------------------------


def _remote_post(client: TestClient, author: Actor) -> Post:
    services = services_of(client)

    async def add() -> Post:
        async with services.db.transaction() as session:
            post = Post(ap_id=f"{author.ap_id}/statuses/1", author_id=author.id or 0, content_html="<p>far away</p>")
            session.add(post)
            await session.flush()
            return post

    return run_in_app(client, add)


def _public_ids(client: TestClient, viewer: Account) -> list[int]:
    async def read() -> list[int]:
        async with services_of(client).db.session() as session:
            page = await public_timeline(session, local_only=False, viewer_actor_id=viewer.actor_id)
        return [entry.post_id for entry in page.entries]

    return run_in_app(client, read)


def test_domain_blocks_hide_the_domain_and_remove_followers_there(
    client: TestClient, make_user: Users, token_for: Tokens
) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    remote = _remote_actor(client)
    post = _remote_post(client, remote)
    services = services_of(client)

    async def remote_follows_ana_and_likes() -> None:
        from fediverse.social.notifications import notify
        from storage.models import NotificationType

        async with services.db.transaction() as session:
            session.add(
                Follow(
                    follower_id=remote.id or 0,
                    followee_id=ana.actor_id,
                    state=FollowState.ACCEPTED,
                    ap_id="https://far.example/f/1",
                )
            )
            await notify(session, ana.actor_id, NotificationType.FOLLOW, from_actor_id=remote.id or 0)

    run_in_app(client, remote_follows_ana_and_likes)
    assert post.id in _public_ids(client, ana)
    headers = token_for(ana, "read:blocks write:blocks")
    blocked = client.post("/api/v1/domain_blocks", data={"domain": "FAR.example"}, headers=headers)
    assert blocked.status_code == 200
    assert blocked.json() == {}
    assert client.post("/api/v1/domain_blocks", json={"domain": "far.example"}, headers=headers).status_code == 200
    assert client.get("/api/v1/domain_blocks", headers=headers).json() == ["far.example"]
    assert _relationship(client, token_for(ana), remote.id or 0)["domain_blocking"] is True
    assert post.id not in _public_ids(client, ana)
    assert post.id in _public_ids(client, ben)  # only ana's view changes
    followers = query(client, select(Follow).where(col(Follow.followee_id) == ana.actor_id))
    assert followers == []
    rejects = query(client, select(OutboxActivity).where(col(OutboxActivity.type) == "Reject"))
    assert len(rejects) == 1
    notifications = query(client, select(Notification).where(col(Notification.account_id) == ana.id))
    assert len(notifications) == 1  # kept, but not shown:
    from fediverse.social.notifications import shown_to

    shown = query(client, select(Notification).where(shown_to(ana)))
    assert shown == []
    unblocked = client.request("DELETE", "/api/v1/domain_blocks", params={"domain": "far.example"}, headers=headers)
    assert unblocked.status_code == 200
    assert client.get("/api/v1/domain_blocks", headers=headers).json() == []
    assert post.id in _public_ids(client, ana)


@pytest.mark.parametrize("domain", ["", "not a domain", "-bad-.example", "a..b", "x" * 300, "127.0.0.1:8765"])
def test_domain_blocks_refuse_what_is_no_domain(
    client: TestClient, make_user: Users, token_for: Tokens, domain: str
) -> None:
    ana = make_user("ana")
    response = client.post("/api/v1/domain_blocks", data={"domain": domain}, headers=token_for(ana))
    assert response.status_code == 422
    assert "error" in response.json()


def test_domain_blocks_need_their_scopes(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana = make_user("ana")
    assert client.get("/api/v1/domain_blocks").status_code == 401
    assert client.get("/api/v1/domain_blocks", headers=token_for(ana, "read:mutes")).status_code == 403
    assert (
        client.post("/api/v1/domain_blocks", data={"domain": "x.example"}, headers=token_for(ana, "read")).status_code
        == 403
    )
    assert client.get("/api/v1/domain_blocks", headers=token_for(ana, "follow")).json() == []


# --- across servers -------------------------------------------------------------------------------------


def test_follow_a_remote_account_sends_a_follow(
    client: TestClient, peer: FakePeer, make_user: Users, token_for: Tokens
) -> None:
    ana = make_user("ana")
    remote = peer.add_actor("remy")
    actor = known_actor(client, remote)
    response = client.post(f"/api/v1/accounts/{actor.id}/follow", headers=token_for(ana))
    assert response.status_code == 200
    assert response.json()["requested"] is True
    drain(client)
    (follow,) = peer.activities("Follow")
    assert follow["object"] == remote.id
    # a peer's follower of ana shows as followed_by
    other = peer.add_actor("rosa", key_index=1)
    remote_follows(client, peer, other, "ana")
    rosa = known_actor(client, other)
    assert _relationship(client, token_for(ana), rosa.id or 0)["followed_by"] is True
    assert [item["acct"] for item in client.get(f"/api/v1/accounts/{ana.actor_id}/followers").json()] == [
        f"rosa@{peer.host}"
    ]

"""Moving accounts (FEP-7628, as Mastodon does it; decision 0061), with Mastodon-shaped peers on 127.0.0.1.

Outbound: a local account moves to an account on another server that lists it in ``alsoKnownAs``; every
follower's server gets one signed ``Move``, our actor says ``movedTo``, and the old account posts no more.
Inbound: a followed remote account moves (checked as Mastodon checks: actor == object, the target lists
the old account, the old account's own document says ``movedTo``), and our users' follows move with it.
Moving *into* Reverie: a local account lists a Mastodon account as an alias; that account's Move reaches
its followers here and on a third server, whose Follow of the new account is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from fediverse.core.errors import BadRequest, Conflict, Forbidden
from fediverse.social import actions
from fediverse.social.profiles import ProfileChanges
from fediverse.web.client_api.auth import hash_token, issue_token, new_secret
from storage.models import (
    Account,
    Actor,
    Block,
    Follow,
    FollowState,
    InboxItem,
    Mute,
    Notification,
    NotificationType,
    OAuthApp,
    WorkState,
)
from storage.types import utcnow
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.federation.conftest import (
    AS2,
    act,
    drain,
    follow_remote,
    publish,
    query,
    remote_follows,
    send_activity,
)
from tests.fediverse.federation.test_jsonld_context import MODES, problems
from tests.fediverse.web.conftest import BROWSER, PASSWORD, sign_in
from tests.peers import FakePeer, PeerActor

ANA = f"{TEST_BASE_URL}/users/ana"


def signed(peer: FakePeer, kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(inbox path, activity) of each POST of ``kind`` the peer received; every one must be signed."""
    found = []
    for post in peer.posts():
        assert post.signature_ok, f"{post.path}: signature not valid"
        if post.activity["type"] == kind:
            found.append((post.path, post.activity))
    return found


def mastodon_move(old: PeerActor, target: str, number: int = 1) -> dict[str, Any]:
    """A ``Move`` as Mastodon's ``MoveSerializer`` writes it (no addressing)."""
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{old.id}#moves/{number}",
        "type": "Move",
        "target": target,
        "actor": old.id,
        "object": old.id,
    }


def api_token(client: TestClient, account: Account, scopes: str) -> dict[str, str]:
    """The ``Authorization`` header of a client API token of ``account``, minted straight into the database."""
    services = services_of(client)

    async def mint() -> str:
        async with services.db.transaction() as session:
            app = OAuthApp(client_id=new_secret(), client_secret_hash=hash_token(new_secret()), name="t", scopes=scopes)
            session.add(app)
            await session.flush()
            assert app.id is not None
            app_id = app.id
        access, _, _ = await issue_token(services, app_id, account.id, scopes)
        return access

    return {"Authorization": f"Bearer {run_in_app(client, mint)}"}


def actor_row(client: TestClient, ap_id: str) -> Actor:
    (row,) = query(client, select(Actor).where(Actor.ap_id == ap_id))
    return row[0]  # type: ignore[no-any-return]


def follows_of(client: TestClient, follower_id: str) -> dict[str, str]:
    """Whom ``follower_id`` follows here: followee id -> state."""
    rows = query(
        client,
        select(Actor.ap_id, Follow.state)
        .join(Follow, Follow.followee_id == Actor.id)
        .where(Follow.follower_id == select(Actor.id).where(Actor.ap_id == follower_id).scalar_subquery()),
    )
    return {ap_id: state for ap_id, state in rows}


def notification_types(client: TestClient, username: str) -> list[str]:
    account_id = select(Account.id).where(Account.username == username).scalar_subquery()
    return [row[0] for row in query(client, select(Notification.type).where(Notification.account_id == account_id))]


def inbox_outcomes(client: TestClient) -> list[tuple[str, str, str | None]]:
    return [tuple(row) for row in query(client, select(InboxItem.type, InboxItem.state, InboxItem.last_error))]


@pytest.fixture
def ana(client: TestClient, make_user: Callable[..., Account], peer: FakePeer, other_peer: FakePeer) -> Account:
    """ana, a local account with a password; both peers check her signatures and our instance actor's."""
    account = make_user("ana", password=PASSWORD)
    for server in (peer, other_peer):
        server.trust(client.get("/users/ana", headers=AS2).json())
        server.trust(client.get("/actor", headers=AS2).json())
    return account


# -- our documents ---------------------------------------------------------------------------------------


def test_our_actor_lists_its_aliases_and_where_it_moved_and_every_processor_reads_them(
    client: TestClient, ana: Account, peer: FakePeer, other_peer: FakePeer
) -> None:
    # Given ana lists her old Mastodon account as an alias
    old = peer.add_actor("ana_old")
    act(client, actions.add_alias, "ana", f"@ana_old@{peer.host}")
    document = client.get("/users/ana", headers=AS2).json()
    # Then her actor document carries it, as Mastodon checks it when the old account moves here
    assert document["alsoKnownAs"] == [old.id]
    assert "movedTo" not in document
    # When she moves on to zoe on another server, which lists her
    zoe = other_peer.add_actor("zoe", 1, alsoKnownAs=[ANA])
    remote_follows(client, peer, peer.add_actor("ben", 2), "ana")
    act(client, actions.move_account, "ana", f"@zoe@{other_peer.host}")
    drain(client)
    moved = client.get("/users/ana", headers=AS2).json()
    assert moved["movedTo"] == zoe.id and moved["alsoKnownAs"] == [old.id]
    ((_, move),) = signed(peer, "Move")
    (_, update_person), *_ = [item for item in signed(peer, "Update") if item[1]["object"]["type"] == "Person"]
    assert update_person["object"]["movedTo"] == zoe.id
    # Then a JSON-LD 1.0 and a 1.1 processor expand the actor and the Move without losing a term
    for mode in MODES:
        assert {name: found for name, doc in {"actor": moved, "Move": move, "Update": update_person}.items()
                if (found := problems(doc, mode))} == {}  # fmt: skip


# -- moving away -----------------------------------------------------------------------------------------


def test_a_move_reaches_each_followers_server_once_and_the_old_account_stops_posting(
    client: TestClient, ana: Account, peer: FakePeer, other_peer: FakePeer
) -> None:
    # Given ana has two followers on one Mastodon server (one shared inbox) and one on another
    for name, index in (("ben", 2), ("cy", 3)):
        remote_follows(client, peer, peer.add_actor(name, index), "ana")
    remote_follows(client, other_peer, other_peer.add_actor("dee", 4), "ana")
    # …and zoe, on the other server, lists ana as an alias
    zoe = other_peer.add_actor("zoe", 1, alsoKnownAs=[ANA])
    peer.received.clear()
    other_peer.received.clear()
    # When ana moves to zoe
    act(client, actions.move_account, "ana", f"@zoe@{other_peer.host}")
    drain(client)
    # Then each server gets one signed Move, at its shared inbox, shaped as Mastodon's
    ((path, move),) = signed(peer, "Move")
    assert path == "/inbox"
    assert (move["actor"], move["object"], move["target"]) == (ANA, ANA, zoe.id)
    assert move["id"].startswith(TEST_BASE_URL)
    assert [item[0] for item in signed(other_peer, "Move")] == ["/inbox"]
    # And the profile points to the new account
    page = client.get("/@ana", headers=BROWSER)
    assert "has moved to" in page.text and f"@zoe@{other_peer.host}" in page.text
    # And ana can no longer post, from any path
    with pytest.raises(Forbidden, match="has moved"):
        publish(client, "ana", "one more picture")
    # When she tries to move again within 30 days, she cannot
    other_peer.add_actor("zed", 5, alsoKnownAs=[ANA])
    with pytest.raises(Conflict):
        act(client, actions.move_account, "ana", zoe.id)
    with pytest.raises(Forbidden, match="30 days"):
        act(client, actions.move_account, "ana", f"@zed@{other_peer.host}")


def test_the_client_api_refuses_a_moved_accounts_new_status(
    client: TestClient, ana: Account, other_peer: FakePeer
) -> None:
    # Given ana moved away
    other_peer.add_actor("zoe", 1, alsoKnownAs=[ANA])
    act(client, actions.move_account, "ana", f"@zoe@{other_peer.host}")
    token = api_token(client, ana, "write")
    # When an app posts a status for her
    response = client.post("/api/v1/statuses", json={"status": "still here?"}, headers=token)
    # Then it is refused, saying why
    assert response.status_code == 403
    assert "moved" in response.json()["error"]


def test_a_move_to_an_account_that_does_not_list_us_is_refused_and_changes_nothing(
    client: TestClient, ana: Account, peer: FakePeer, other_peer: FakePeer
) -> None:
    remote_follows(client, peer, peer.add_actor("ben", 2), "ana")
    other_peer.add_actor("zoe", 1)  # no alsoKnownAs
    peer.received.clear()
    with pytest.raises(BadRequest, match="does not list this account"):
        act(client, actions.move_account, "ana", f"@zoe@{other_peer.host}")
    drain(client)
    assert peer.activities() == []
    assert actor_row(client, ANA).moved_to_ap_id is None
    assert publish(client, "ana", "still posting").id


def test_the_targets_alias_is_checked_on_its_document_as_served_now(
    client: TestClient, ana: Account, other_peer: FakePeer
) -> None:
    # Given zoe was fetched before she listed ana
    zoe = other_peer.add_actor("zoe", 1)
    run_in_app(client, services_of(client).resolver.actor, zoe.id)
    # When she lists ana now, the move is judged on the fresh document
    zoe.extra["alsoKnownAs"] = [ANA]
    assert act(client, actions.move_account, "ana", zoe.id).ap_id == zoe.id


def test_moving_in_the_settings_needs_the_password(
    client: TestClient, ana: Account, peer: FakePeer, other_peer: FakePeer
) -> None:
    csrf = sign_in(client, "ana")
    old = peer.add_actor("ana_old")
    zoe = other_peer.add_actor("zoe", 1, alsoKnownAs=[ANA])
    # When ana adds her old account as an alias in the settings, by its address
    added = client.post(
        "/settings/aliases", data={"handle": f"@ana_old@{peer.host}", "csrf_token": csrf}, follow_redirects=False
    )
    assert added.status_code == 303
    page = client.get("/settings/moving", headers=BROWSER)
    assert f"@ana_old@{peer.host}" in page.text
    assert actor_row(client, ANA).also_known_as == [old.id]
    # An address nobody answers for is shown as a reason on the page, not an error page
    missing = client.post("/settings/aliases", data={"handle": f"@nobody@{peer.host}", "csrf_token": csrf})
    assert missing.status_code == 400 and "could not be found" in missing.text
    # When she moves with a wrong password, nothing happens
    wrong = client.post(
        "/settings/move", data={"handle": f"@zoe@{other_peer.host}", "current_password": "nope", "csrf_token": csrf}
    )
    assert wrong.status_code == 400 and "password is not right" in wrong.text
    assert actor_row(client, ANA).moved_to_ap_id is None
    # With her password, she moves
    moved = client.post(
        "/settings/move",
        data={"handle": f"@zoe@{other_peer.host}", "current_password": PASSWORD, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    assert actor_row(client, ANA).moved_to_ap_id == zoe.id
    assert "This account has moved" in client.get("/settings/moving", headers=BROWSER).text
    # And the compose page says why she cannot post, and posting is refused with that reason
    compose = client.get("/compose", headers=BROWSER)
    assert "can no longer post" in compose.text and 'id="publish-button"' not in compose.text
    refused = client.post("/compose/text", data={"caption": "hello?", "csrf_token": csrf}, headers=BROWSER)
    assert refused.status_code == 403 and "has moved" in refused.text
    # And she can take the alias off again
    removed = client.post(
        "/settings/aliases/remove", data={"handle": old.id, "csrf_token": csrf}, follow_redirects=False
    )
    assert removed.status_code == 303
    assert actor_row(client, ANA).also_known_as is None


# -- a followed account moves ----------------------------------------------------------------------------


@pytest.fixture
def ben_moving(client: TestClient, ana: Account, peer: FakePeer, other_peer: FakePeer) -> tuple[PeerActor, PeerActor]:
    """ben (Mastodon-shaped, on ``peer``), followed by ana, about to move to ben2 on ``other_peer``, which
    lists him; his own document does not say movedTo yet."""
    ben = peer.add_actor("ben", 2)
    ben2 = other_peer.add_actor("ben2", 3, alsoKnownAs=[ben.id])
    follow_remote(client, peer, "ana", ben)
    peer.received.clear()
    return ben, ben2


def test_a_followed_mastodon_account_moves_and_our_follow_moves_with_it(
    client: TestClient,
    make_user: Callable[..., Account],
    ana: Account,
    peer: FakePeer,
    other_peer: FakePeer,
    ben_moving: tuple[PeerActor, PeerActor],
) -> None:
    ben, ben2 = ben_moving
    # Given cy blocks ben and dee mutes him (without hiding notifications)
    make_user("cy")
    make_user("dee")
    for server in (peer, other_peer):
        server.trust(client.get("/users/cy", headers=AS2).json())
    act(client, actions.block, "cy", ben.id)
    act(client, partial_mute(hide_notifications=False), "dee", ben.id)
    drain(client)
    peer.received.clear()
    # When ben moves to ben2: his document says so, and his server sends Move to his followers' servers
    ben.extra["movedTo"] = ben2.id
    assert send_activity(client, peer, ben, mastodon_move(ben, ben2.id)) == 202
    drain(client)
    # Then ana follows ben2 (a signed Follow at his inbox) and no longer ben (Undo{Follow} to his server)
    ((path, follow),) = signed(other_peer, "Follow")
    assert path == "/users/ben2/inbox" and (follow["actor"], follow["object"]) == (ANA, ben2.id)
    ((_, undo),) = signed(peer, "Undo")
    assert undo["object"]["type"] == "Follow" and undo["object"]["object"] == ben.id
    assert follows_of(client, ANA) == {ben2.id: FollowState.PENDING}
    # And she is told, on her notifications page and in the client API's terms
    assert notification_types(client, "ana") == [NotificationType.MOVE]
    (listed,) = client.get("/api/v1/notifications", headers=api_token(client, ana, "read")).json()
    assert listed["type"] == "move" and listed["account"]["acct"] == ben.handle
    sign_in(client, "ana")
    page = client.get("/notifications", headers=BROWSER).text
    assert f'moved to <a href="/@ben2@{other_peer.host}">@ben2@{other_peer.host}</a>' in page
    # And cy's block and dee's mute carry over to ben2 (the block is sent to ben2's server)
    cy_blocks = query(client, select(Actor.ap_id).join(Block, Block.blocked_id == Actor.id))
    assert sorted(row[0] for row in cy_blocks) == sorted([ben.id, ben2.id])
    assert [item[1]["object"] for item in signed(other_peer, "Block")] == [ben2.id]
    mutes = query(client, select(Actor.ap_id, Mute.hide_notifications).join(Mute, Mute.muted_id == Actor.id))
    assert sorted(tuple(row) for row in mutes) == sorted([(ben.id, False), (ben2.id, False)])
    # When ben2 accepts, ana follows ben2
    accept = {
        "id": f"{ben2.id}#accepts/1",
        "type": "Accept",
        "actor": ben2.id,
        "object": {key: follow[key] for key in ("id", "type", "actor", "object")},
    }
    assert send_activity(client, other_peer, ben2, accept) == 202
    drain(client)
    assert follows_of(client, ANA) == {ben2.id: FollowState.ACCEPTED}
    # When the Move arrives again (a retry under a new id), it is ignored: ben moved here already
    other_peer.received.clear()
    assert send_activity(client, peer, ben, mastodon_move(ben, ben2.id, 2)) == 202
    drain(client)
    assert other_peer.activities() == [] and notification_types(client, "ana") == [NotificationType.MOVE]


def partial_mute(*, hide_notifications: bool) -> Callable[..., Any]:
    async def mute(services: Any, username: str, reference: str) -> Any:
        return await actions.mute(services, username, reference, hide_notifications=hide_notifications)

    return mute


def test_a_move_of_an_account_that_moved_within_30_days_is_ignored(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, ben_moving: tuple[PeerActor, PeerActor]
) -> None:
    ben, ben2 = ben_moving
    ben.extra["movedTo"] = ben2.id
    run_in_app(client, services_of(client).resolver.actor, ben.id)

    async def moved_a_week_ago() -> None:
        async with services_of(client).db.transaction() as session:
            await session.execute(
                update(Actor).where(Actor.ap_id == ben.id).values(moved_at=utcnow() - timedelta(days=7))
            )

    run_in_app(client, moved_a_week_ago)
    assert send_activity(client, peer, ben, mastodon_move(ben, ben2.id)) == 202
    drain(client)
    assert other_peer.activities() == []
    assert follows_of(client, ANA) == {ben.id: FollowState.ACCEPTED}


@pytest.mark.parametrize("forgery", ["target without alias", "actor is not object", "old account not moved"])
def test_a_forged_move_is_refused_and_changes_nothing(
    client: TestClient,
    peer: FakePeer,
    other_peer: FakePeer,
    ben_moving: tuple[PeerActor, PeerActor],
    forgery: str,
) -> None:
    ben, ben2 = ben_moving
    ben.extra["movedTo"] = ben2.id
    move = mastodon_move(ben, ben2.id)
    if forgery == "target without alias":
        del ben2.extra["alsoKnownAs"]
        reason = "does not list the moving account"
    elif forgery == "actor is not object":
        # eve, on ben's server, tries to move ben's followers to her friend
        eve = peer.add_actor("eve", 4)
        move = {**mastodon_move(eve, ben2.id), "object": ben.id}
        ben = eve
        reason = "object == actor"
    else:
        del ben.extra["movedTo"]  # someone holding ben's key, but his server does not say he moved
        reason = "does not say movedTo"
    assert send_activity(client, peer, ben, move) == 202
    drain(client)
    ((_, state, error),) = [item for item in inbox_outcomes(client) if item[0] == "Move"]
    assert state == WorkState.FAILED and reason in (error or "")
    assert follows_of(client, ANA) == {ben_moving[0].id: FollowState.ACCEPTED}
    assert other_peer.activities() == [] and signed(peer, "Undo") == []
    assert notification_types(client, "ana") == []


def test_an_unsigned_move_is_not_accepted(
    client: TestClient, peer: FakePeer, ben_moving: tuple[PeerActor, PeerActor]
) -> None:
    ben, ben2 = ben_moving
    ben.extra["movedTo"] = ben2.id
    body = json.dumps(mastodon_move(ben, ben2.id)).encode()
    response = client.post("/inbox", content=body, headers={"Content-Type": "application/activity+json"})
    assert response.status_code == 401
    drain(client)
    assert follows_of(client, ANA) == {ben.id: FollowState.ACCEPTED}
    assert all(item[0] != "Move" for item in inbox_outcomes(client))


# -- moving into Reverie ---------------------------------------------------------------------------------


def test_a_mastodon_account_moves_here_and_its_followers_follow_the_new_account(
    client: TestClient,
    make_user: Callable[..., Account],
    ana: Account,
    peer: FakePeer,
    other_peer: FakePeer,
) -> None:
    # Given ben on Mastodon, followed by cy here (the old account approves nobody by hand)
    ben = peer.add_actor("ben", 2)
    make_user("cy")
    follow_remote(client, peer, "cy", ben)
    # …and ana lists ben as the account she moves from
    act(client, actions.add_alias, "ana", f"@ben@{peer.host}")
    # When ben moves to ana: his document says movedTo, and Mastodon sends Move to his followers' servers
    ben.extra["movedTo"] = ANA
    assert send_activity(client, peer, ben, mastodon_move(ben, ANA)) == 202
    drain(client)
    # Then cy follows ana and is told
    assert follows_of(client, f"{TEST_BASE_URL}/users/cy") == {ANA: FollowState.ACCEPTED}
    assert notification_types(client, "cy") == [NotificationType.MOVE]
    # And fay, ben's follower on a third server, whose server checks as Mastodon does (ana, fetched
    # fresh, lists ben in alsoKnownAs), follows ana; ana's server accepts and lists her
    document = client.get("/users/ana", headers=AS2).json()
    assert ben.id in document["alsoKnownAs"]
    fay = other_peer.add_actor("fay", 4)
    other_peer.received.clear()
    follow = {"id": f"{fay.id}#follows/1", "type": "Follow", "actor": fay.id, "object": ANA}
    assert send_activity(client, other_peer, fay, follow) == 202
    drain(client)
    ((path, accept),) = signed(other_peer, "Accept")
    assert path == "/users/fay/inbox" and accept["object"]["id"] == follow["id"]
    followers = client.get("/users/ana/followers?page=1", headers=AS2).json()["orderedItems"]
    assert fay.id in followers
    assert follows_of(client, fay.id) == {ANA: FollowState.ACCEPTED}


def test_moving_between_two_local_accounts_moves_local_followers(
    client: TestClient, make_user: Callable[..., Account], ana: Account, peer: FakePeer
) -> None:
    # Given cy (here) and ben (on Mastodon) follow ana, and ana2 (here, approving followers by hand)
    # lists ana
    make_user("cy")
    make_user("ana2")
    act(client, actions.follow, "cy", "ana")
    remote_follows(client, peer, peer.add_actor("ben", 2), "ana")
    act(client, actions.update_profile, "ana2", ProfileChanges("Ana", "", manually_approves_followers=True))
    act(client, actions.add_alias, "ana2", "ana")
    peer.received.clear()
    # When ana moves to ana2
    act(client, actions.move_account, "ana", "ana2")
    drain(client)
    # Then cy follows ana2 here at once (ana2 listed ana as herself), and ben's server gets the Move
    ana2 = f"{TEST_BASE_URL}/users/ana2"
    assert follows_of(client, f"{TEST_BASE_URL}/users/cy") == {ana2: FollowState.ACCEPTED}
    ((_, move),) = signed(peer, "Move")
    assert move["target"] == ana2

"""Deleting an account: confirmed with the password, ``Delete`` of the actor to every server that knows it
(real peers on 127.0.0.1 check the signature with pyhttpsig), posts and pictures removed, sign-ins ended,
the username kept. Admins suspend and delete from the admin area."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from sqlmodel import select
from starlette.testclient import TestClient

from fediverse.core.accounts import create_account
from fediverse.core.errors import Conflict
from fediverse.core.instance_settings import InstanceInfo, save_instance_settings
from fediverse.social import filters, lists
from storage.models import (
    Account,
    AccountList,
    CustomFilter,
    FilterKeyword,
    Follow,
    ListMember,
    Media,
    OutboxActivity,
    Post,
    WebSession,
)
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.federation.conftest import AS2, drain, follow_remote, query, remote_follows
from tests.fediverse.studio.conftest import Browser, generate, sign_in
from tests.fediverse.web.conftest import BROWSER, PASSWORD, form_token_of
from tests.peers import FakePeer


def publish_picture(ana: Browser) -> dict[str, Any]:
    media = generate(ana, prompt="a lighthouse in fog")["media"][0]
    response = ana.post("/api/posts", json={"media_ids": [media["id"]], "caption": "the last light"})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def media_files(client: TestClient) -> set[str]:
    folder = services_of(client).settings.media_dir
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def _make_list_and_filter(client: TestClient, username: str) -> None:
    """A list (with a followed member) and a keyword filter of the account, straight through the rules."""
    services = services_of(client)

    def write(session: Session) -> None:
        account = session.scalar(select(Account).where(Account.username == username))
        assert account is not None and account.id is not None
        followed = list(session.scalars(select(Follow.followee_id).where(Follow.follower_id == account.actor_id)))
        made = lists.create_list(session, account.id, lists.ListChanges(title="Friends"))
        lists.add_members(session, account.id, account.actor_id, made.id, followed)
        fields = filters.FilterFields(title="Words", context=["home"])
        filters.create_filter(session, account.id, fields, [filters.KeywordChange(keyword="fog")])

    async def make() -> None:
        await services.db.write(write)

    run_in_app(client, make)


def test_deleting_ones_account_tells_every_server_that_knows_it_and_keeps_the_name(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana, followed by ben on one server and following dee on another, with a picture posted
    ana = sign_in(client, make_user("ana", password=PASSWORD))
    document = client.get("/users/ana", headers=AS2).json()
    peer.trust(document)
    other_peer.trust(document)
    remote_follows(client, peer, peer.add_actor("ben"), "ana")
    follow_remote(client, other_peer, "ana", other_peer.add_actor("dee", key_index=2))
    post = publish_picture(ana)
    drain(client)
    assert media_files(client)
    _make_list_and_filter(client, "ana")
    # When she asks to delete her account with a wrong password, nothing happens
    wrong = ana.post("/settings/delete", data={"password": "not my password", "confirm": "on"}, headers=BROWSER)
    assert wrong.status_code == 403 and "not right" in wrong.text
    assert client.get("/users/ana", headers=AS2).status_code == 200
    # When she confirms with her password
    done = ana.post(
        "/settings/delete", data={"password": PASSWORD, "confirm": "on"}, headers=BROWSER, follow_redirects=False
    )
    assert done.status_code == 303
    drain(client)
    # Then each server got one signed Delete of her actor, at its shared inbox
    deletes = [
        (server, received)
        for server, posts in (("peer", peer.posts()), ("other", other_peer.posts()))
        for received in posts
        if received.activity["type"] == "Delete"
    ]
    assert sorted(server for server, _ in deletes) == ["other", "peer"]
    for _, received in deletes:
        assert received.path == "/inbox" and received.signature_ok
        assert received.activity["object"] == received.activity["actor"] == document["id"]
        assert received.activity["id"] == f"{document['id']}#delete"
    # and her actor answers 410 with a Tombstone; WebFinger and her post are gone too
    gone = client.get("/users/ana", headers=AS2)
    assert gone.status_code == 410
    assert gone.json()["type"] == "Tombstone" and gone.json()["formerType"] == "Person"
    assert gone.json()["id"] == document["id"] and "deleted" in gone.json()
    finger = client.get("/.well-known/webfinger", params={"resource": "acct:ana@127.0.0.1:8765"})
    assert finger.status_code == 410
    assert client.get(post["url"].removeprefix(TEST_BASE_URL), headers=AS2).status_code == 410
    # her pictures' files, follows and sessions are gone
    assert media_files(client) == set()
    assert query(client, select(Media.id)) == []
    assert query(client, select(Follow.id)) == []
    assert query(client, select(WebSession.token_hash)) == []
    for table in (AccountList, ListMember, CustomFilter, FilterKeyword):
        assert query(client, select(table)) == [], table  # her lists and filters too
    # of what she sent, only the Delete is still served (her Follow, Accept and Create are not)
    assert [row[0] for row in query(client, select(OutboxActivity.type))] == ["Delete"]
    assert [row[0] for row in query(client, select(Post.deleted_at))] != [None]
    assert client.get("/settings/profile", headers=BROWSER, follow_redirects=False).status_code == 401
    # and nobody can take her name
    services = services_of(client)

    async def open_registrations() -> None:
        async with services.db.transaction() as session:
            await save_instance_settings(session, InstanceInfo(name="Dreams", description="", registrations="open"))

    run_in_app(client, open_registrations)
    client.cookies.clear()
    page = client.get("/register", headers=BROWSER)
    data = {"username": "ana", "password": PASSWORD, "password_again": PASSWORD, "form_token": form_token_of(page.text)}
    again = client.post("/register", data=data, headers=BROWSER)
    assert again.status_code == 409 and "taken" in again.text
    try:
        run_in_app(client, create_account, services.db, services.urls, "ana")
    except Conflict:
        pass
    else:
        raise AssertionError("the name of a deleted account was given again")


def test_an_admin_suspends_lifts_and_deletes_accounts(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    admin = sign_in(client, make_user("root", password=PASSWORD, is_admin=True))
    make_user("ben", password=PASSWORD)
    document = client.get("/users/ben", headers=AS2).json()
    peer.trust(document)
    remote_follows(client, peer, peer.add_actor("zoe"), "ben")
    page = admin.get("/admin/accounts", headers=BROWSER)
    assert page.status_code == 200 and "@ben" in page.text
    # Suspending: ben cannot sign in, and is gone to other servers, but nothing is removed
    assert admin.post("/admin/accounts/ben/suspend", headers=BROWSER).status_code == 200
    assert client.get("/users/ben", headers=AS2).status_code == 410
    assert len(query(client, select(Follow.id))) == 1
    # Lifting it brings him back
    assert admin.post("/admin/accounts/ben/unsuspend", headers=BROWSER).status_code == 200
    assert client.get("/users/ben", headers=AS2).status_code == 200
    # Deleting needs the name typed; then it is done, and told to his follower's server
    refused = admin.post("/admin/accounts/ben/delete", data={"confirm": "bne"}, headers=BROWSER)
    assert refused.status_code == 400 and "Type ben" in refused.text
    deleted = admin.post("/admin/accounts/ben/delete", data={"confirm": "ben"}, headers=BROWSER)
    assert deleted.status_code == 200 and "Deleted." in deleted.text
    drain(client)
    assert [item["object"] for item in peer.activities("Delete")] == [document["id"]]
    assert query(client, select(Follow.id)) == []
    # A deleted account stays deleted, and the admin cannot remove themselves here
    assert admin.post("/admin/accounts/ben/unsuspend", headers=BROWSER).status_code == 409
    assert admin.post("/admin/accounts/root/delete", data={"confirm": "root"}, headers=BROWSER).status_code == 400

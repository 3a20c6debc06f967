"""Accounts through the client API: one's own (verify and update credentials, preferences), any account
by id or ``acct``, its statuses, followers and following — as a client sees them over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from fediverse.social import actions
from storage.models import Account, Actor, Visibility
from tests.conftest import run_in_app, services_of
from tests.fediverse.client_api.acting import act, draft_image, publish
from tests.fediverse.client_api.shapes import (
    CREDENTIAL_ACCOUNT_KEYS,
    PREFERENCES_KEYS,
    ROLE_KEYS,
    SOURCE_KEYS,
    STATUS_KEYS,
    assert_account,
    assert_shape,
)
from tests.fediverse.test_imaging import encode, gradient

Tokens = Callable[..., dict[str, str]]
Users = Callable[..., Account]
NOT_FOUND = {"error": "Record not found"}


def _remote_actor(client: TestClient, username: str = "remy", domain: str = "far.example") -> Actor:
    services = services_of(client)

    async def add() -> Actor:
        async with services.db.transaction() as session:
            actor = Actor(
                ap_id=f"https://{domain}/users/{username}",
                username=username,
                domain=domain,
                inbox_url=f"https://{domain}/users/{username}/inbox",
                url=f"https://{domain}/@{username}",
                display_name="Remy",
                fetched_at=datetime.now(UTC),
            )
            session.add(actor)
            await session.flush()
            return actor

    return run_in_app(client, add)


# --- verify_credentials ---------------------------------------------------------------------------------


def test_verify_credentials_is_a_credential_account(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana = make_user("ana", display_name="Ana")
    act(
        client,
        actions.update_profile,
        "ana",
        _changes(bio="Painter of #harbours\n\nand quiet mornings", locked=True, name="Ana"),
    )
    make_user("ben")
    act(client, actions.follow, "ben", f"{services_of(client).urls.actor_id('ana')}")
    response = client.get("/api/v1/accounts/verify_credentials", headers=token_for(ana, "profile"))
    assert response.status_code == 200
    me = response.json()
    assert_shape(me, CREDENTIAL_ACCOUNT_KEYS)
    assert_account(me)
    assert_shape(me["source"], SOURCE_KEYS)
    assert_shape(me["role"], ROLE_KEYS, lists=())
    assert me["id"] == str(ana.actor_id)
    assert me["acct"] == "ana"
    assert me["display_name"] == "Ana"
    assert me["locked"] is True
    assert me["note"].startswith("<p>Painter of <a")
    assert me["source"]["note"] == "Painter of #harbours\n\nand quiet mornings"
    assert me["source"]["follow_requests_count"] == 1
    assert me["source"]["privacy"] == "public"
    assert me["role"]["highlighted"] is False
    assert me["avatar"] == "http://127.0.0.1:8765/static/avatar.png"
    assert me["created_at"].endswith("Z")


def test_an_admin_has_the_admin_role(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana = make_user("ana", is_admin=True)
    role = client.get("/api/v1/accounts/verify_credentials", headers=token_for(ana, "read")).json()["role"]
    assert role["name"] == "Admin"
    assert role["highlighted"] is True


def test_verify_credentials_needs_a_user_token_with_profile_or_read(
    client: TestClient, make_user: Users, token_for: Tokens
) -> None:
    ana = make_user("ana")
    path = "/api/v1/accounts/verify_credentials"
    assert client.get(path).status_code == 401
    assert client.get(path).json()["error"]
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get(path, headers=token_for(None, "read")).status_code == 401  # an app's own token
    refused = client.get(path, headers=token_for(ana, "write"))
    assert refused.status_code == 403
    assert "profile" in refused.json()["error"]
    assert client.get(path, headers=token_for(ana, "read:accounts")).status_code == 200


# --- update_credentials ---------------------------------------------------------------------------------


def _changes(*, bio: str = "", locked: bool = False, name: str = "") -> object:
    from fediverse.social.profiles import ProfileChanges

    return ProfileChanges(display_name=name, bio=bio, manually_approves_followers=locked)


def test_update_credentials_from_a_form(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana = make_user("ana")
    headers = token_for(ana, "write:accounts")
    response = client.patch(
        "/api/v1/accounts/update_credentials",
        data={
            "display_name": "Ana of the Harbour",
            "note": "Dreams & pictures",
            "locked": "true",
            "bot": "true",
            "discoverable": "false",
            "fields_attributes[0][name]": "Site",
            "fields_attributes[0][value]": "https://example.com",
            "source[privacy]": "unlisted",
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    me = response.json()
    assert_shape(me, CREDENTIAL_ACCOUNT_KEYS)
    assert me["display_name"] == "Ana of the Harbour"
    assert me["note"] == "<p>Dreams &amp; pictures</p>"
    assert me["source"]["note"] == "Dreams & pictures"
    assert me["locked"] is True
    assert me["discoverable"] is False
    assert me["bot"] is False  # not kept
    assert me["fields"] == []
    public = client.get(f"/api/v1/accounts/{ana.actor_id}").json()
    assert public["display_name"] == "Ana of the Harbour"
    # what was not sent stays as it was
    again = client.patch("/api/v1/accounts/update_credentials", json={"locked": False}, headers=headers).json()
    assert again["display_name"] == "Ana of the Harbour"
    assert again["source"]["note"] == "Dreams & pictures"
    assert again["locked"] is False
    assert again["discoverable"] is False


def test_update_credentials_with_avatar_and_header(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana = make_user("ana")
    picture = encode(gradient(120, 80), "PNG")
    response = client.patch(
        "/api/v1/accounts/update_credentials",
        data={"display_name": "Ana"},
        files={"avatar": ("me.png", picture, "image/png"), "header": ("sea.png", picture, "image/png")},
        headers=token_for(ana, "write:accounts"),
    )
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["avatar"].startswith("http://127.0.0.1:8765/media/")
    assert me["header"].startswith("http://127.0.0.1:8765/media/")
    assert client.get(me["avatar"].removeprefix("http://127.0.0.1:8765")).status_code == 200


def test_update_credentials_refuses_bad_input(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana = make_user("ana")
    path = "/api/v1/accounts/update_credentials"
    headers = token_for(ana, "write:accounts")
    too_long = client.patch(path, data={"display_name": "x" * 101}, headers=headers)
    assert too_long.status_code == 422
    assert "display_name" in too_long.json()["error"]
    assert client.patch(path, data={"note": "x" * 1001}, headers=headers).status_code == 422
    not_an_image = client.patch(path, files={"avatar": ("me.png", b"not a picture", "image/png")}, headers=headers)
    assert not_an_image.status_code == 422
    assert "image" in not_an_image.json()["error"]
    broken_json = client.patch(path, content=b"{nope", headers={**headers, "Content-Type": "application/json"})
    assert broken_json.status_code == 400
    assert client.patch(path, json=["a list"], headers=headers).status_code == 400
    assert client.patch(path, json={"display_name": {"nested": 1}}, headers=headers).status_code == 422
    assert client.patch(path, data={"display_name": "x"}, headers=token_for(ana, "read")).status_code == 403
    assert client.patch(path, data={"display_name": "x"}).status_code == 401
    assert client.get(f"/api/v1/accounts/{ana.actor_id}").json()["display_name"] == ""


def test_update_credentials_reads_what_it_does_not_keep(
    client: TestClient, make_user: Users, token_for: Tokens
) -> None:
    """``source[…]``, ``fields_attributes`` and ``bot`` are read as Mastodon reads them (a form's brackets, JSON
    objects, fields keyed by index) and refused when malformed, though we keep none of them."""
    ana = make_user("ana")
    path = "/api/v1/accounts/update_credentials"
    headers = token_for(ana, "write:accounts")
    as_json = {
        "display_name": "Ana",
        "bot": False,
        "source": {"privacy": "private", "sensitive": True, "language": "de"},
        "fields_attributes": {"0": {"name": "Site", "value": "https://example.com"}, "1": {"name": "", "value": ""}},
    }
    assert client.patch(path, json=as_json, headers=headers).status_code == 200
    listed = {"fields_attributes": [{"name": "Site", "value": "x"}], "source": {}}
    assert client.patch(path, json=listed, headers=headers).status_code == 200
    for body, named in (
        ({"source": "public"}, "source"),
        ({"source": {"privacy": "everyone"}}, "source[privacy]"),
        ({"source": {"sensitive": "perhaps"}}, "source[sensitive]"),
        ({"fields_attributes": "Site"}, "fields_attributes"),
        ({"fields_attributes": [{"name": "x" * 256}]}, "fields_attributes[0][name]"),
        ({"bot": "maybe"}, "bot"),
        ({"locked": ["yes"]}, "locked"),
        ({"avatar": "https://example.com/me.png"}, "avatar"),
    ):
        refused = client.patch(path, json=body, headers=headers)
        assert refused.status_code == 422, body
        assert named in refused.json()["error"], body
    as_form = client.patch(path, data={"source[privacy]": "everyone"}, headers=headers)
    assert as_form.status_code == 422 and "source[privacy]" in as_form.json()["error"]
    picture = encode(gradient(20, 20), "PNG")
    three = [("avatar", ("a.png", picture, "image/png"))] * 2 + [("header", ("h.png", picture, "image/png"))]
    too_many = client.patch(path, files=three, headers=headers)
    assert too_many.status_code == 400 and "files" in too_many.json()["error"]
    assert client.patch(path, content=b"<me/>", headers={**headers, "Content-Type": "text/xml"}).status_code == 415
    assert client.get(f"/api/v1/accounts/{ana.actor_id}").json()["display_name"] == "Ana"


# --- one account ----------------------------------------------------------------------------------------


def test_get_account_by_id(client: TestClient, make_user: Users) -> None:
    ana = make_user("ana", display_name="Ana")
    remote = _remote_actor(client)
    found = client.get(f"/api/v1/accounts/{ana.actor_id}")
    assert found.status_code == 200
    assert_account(found.json())
    assert found.json()["url"] == "http://127.0.0.1:8765/@ana"
    theirs = client.get(f"/api/v1/accounts/{remote.id}").json()
    assert theirs["acct"] == "remy@far.example"
    assert theirs["url"] == "https://far.example/@remy"


@pytest.mark.parametrize("raw", ["999999", "9223372036854775807", "99999999999999999999", "abc", "-1", "0"])
def test_unknown_accounts_are_404(client: TestClient, raw: str) -> None:
    response = client.get(f"/api/v1/accounts/{raw}")
    assert response.status_code == 404
    assert "error" in response.json()
    if raw.isdigit() and len(raw) < 19 and raw != "0":
        assert response.json() == NOT_FOUND


def test_disabled_accounts_and_the_instance_actor_are_not_accounts(client: TestClient, make_user: Users) -> None:
    ana = make_user("ana")
    services = services_of(client)

    async def disable_and_find_instance_actor() -> int:
        from sqlalchemy import select
        from sqlmodel import col

        from fediverse.core.accounts import ensure_instance_actor

        await ensure_instance_actor(services.db, services.urls)
        async with services.db.transaction() as session:
            row = await session.get(Account, ana.id)
            assert row is not None
            row.disabled_at = datetime.now(UTC)
            found = await session.scalar(select(col(Actor.id)).where(col(Actor.type) == "Application"))
            assert found is not None
            return found

    instance_actor_id = run_in_app(client, disable_and_find_instance_actor)
    assert client.get(f"/api/v1/accounts/{ana.actor_id}").json() == NOT_FOUND
    assert client.get(f"/api/v1/accounts/{instance_actor_id}").json() == NOT_FOUND


@pytest.mark.parametrize("acct", ["ana", "@ana", "ANA", "ana@127.0.0.1:8765"])
def test_lookup_by_acct(client: TestClient, make_user: Users, acct: str) -> None:
    ana = make_user("ana")
    response = client.get("/api/v1/accounts/lookup", params={"acct": acct})
    assert response.status_code == 200
    assert response.json()["id"] == str(ana.actor_id)


def test_lookup_of_remote_and_unknown(client: TestClient, make_user: Users) -> None:
    remote = _remote_actor(client)
    assert client.get("/api/v1/accounts/lookup", params={"acct": "remy@FAR.example"}).json()["id"] == str(remote.id)
    assert client.get("/api/v1/accounts/lookup", params={"acct": "nobody@far.example"}).json() == NOT_FOUND
    assert client.get("/api/v1/accounts/lookup", params={"acct": "nobody"}).status_code == 404
    assert client.get("/api/v1/accounts/lookup", params={"acct": "@"}).status_code == 404
    assert client.get("/api/v1/accounts/lookup", params={"acct": "x" * 5000}).status_code == 404
    missing = client.get("/api/v1/accounts/lookup")
    assert missing.status_code == 400
    assert "acct" in missing.json()["error"]


# --- an account's statuses ------------------------------------------------------------------------------


def _ids(response: object) -> list[str]:
    return [status["id"] for status in response.json()]  # type: ignore[attr-defined]


def test_statuses_follow_the_read_rule(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana, ben, cy = make_user("ana"), make_user("ben"), make_user("cy")
    act(client, actions.follow, "ben", services_of(client).urls.actor_id("ana"))
    public = publish(client, "ana", "open to all")
    followers = publish(client, "ana", "for followers", visibility=Visibility.FOLLOWERS)
    ben_actor = run_in_app(client, _actor_of, client, ben)
    direct = publish(client, "ana", "just for ben", visibility=Visibility.DIRECT, mentions=[ben_actor])
    path = f"/api/v1/accounts/{ana.actor_id}/statuses"
    anonymous = client.get(path)
    assert anonymous.status_code == 200
    assert _ids(anonymous) == [str(public.id)]
    for status in anonymous.json():
        assert_shape(status, STATUS_KEYS)
    assert _ids(client.get(path, headers=token_for(ben))) == [str(direct.id), str(followers.id), str(public.id)]
    assert _ids(client.get(path, headers=token_for(cy))) == [str(public.id)]
    assert len(client.get(path, headers=token_for(ana)).json()) == 3
    # a token without read:statuses may not read them signed in
    assert client.get(path, headers=token_for(ben, "write")).status_code == 403


async def _actor_of(client: TestClient, account: Account) -> Actor:
    async with services_of(client).db.session() as session:
        actor = await session.get(Actor, account.actor_id)
    assert actor is not None
    return actor


def test_statuses_filters(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana = make_user("ana")
    make_user("ben")
    top = publish(client, "ana", "a #harbour at dawn")
    picture = publish(client, "ana", "with a picture", media_ids=[draft_image(client, ana)])
    reply = publish(client, "ana", "answering myself", in_reply_to=top)
    bens = publish(client, "ben", "ben's own")
    act(client, actions.boost, "ana", bens.ap_id)
    path = f"/api/v1/accounts/{ana.actor_id}/statuses"
    everything = client.get(path).json()
    assert [status["id"] for status in everything[1:]] == [str(reply.id), str(picture.id), str(top.id)]
    boost = everything[0]
    assert boost["reblog"]["id"] == str(bens.id)
    assert boost["account"]["username"] == "ana"
    assert _ids(client.get(path, params={"exclude_reblogs": "true"})) == [
        str(reply.id),
        str(picture.id),
        str(top.id),
    ]
    assert _ids(client.get(path, params={"exclude_replies": "1", "exclude_reblogs": "1"})) == [
        str(picture.id),
        str(top.id),
    ]
    media_only = client.get(path, params={"only_media": "true"}).json()
    assert [status["id"] for status in media_only] == [str(picture.id)]
    assert media_only[0]["media_attachments"][0]["type"] == "image"
    assert _ids(client.get(path, params={"tagged": "Harbour"})) == [str(top.id)]
    assert _ids(client.get(path, params={"tagged": "#harbour"})) == [str(top.id)]
    assert client.get(path, params={"pinned": "true"}).json() == []
    assert len(client.get(path, params={"exclude_replies": "false", "only_media": "0"}).json()) == 4


def test_statuses_pages_with_link_headers(client: TestClient, make_user: Users) -> None:
    ana = make_user("ana")
    posts = [publish(client, "ana", f"picture {number}") for number in range(5)]
    newest_first = [str(post.id) for post in reversed(posts)]
    path = f"/api/v1/accounts/{ana.actor_id}/statuses"
    first = client.get(path, params={"limit": "2"})
    assert _ids(first) == newest_first[:2]
    link = first.headers["link"]
    assert f"max_id={newest_first[1]}" in link and 'rel="next"' in link
    assert f"min_id={newest_first[0]}" in link and 'rel="prev"' in link
    assert _ids(client.get(path, params={"limit": "2", "max_id": newest_first[1]})) == newest_first[2:4]
    assert _ids(client.get(path, params={"limit": "2", "min_id": newest_first[4]})) == newest_first[2:4]
    assert _ids(client.get(path, params={"limit": "2", "since_id": newest_first[4]})) == newest_first[:2]
    assert _ids(client.get(path, params={"limit": "500"})) == newest_first  # clamped, never an error
    assert _ids(client.get(path, params={"limit": "zero"})) == newest_first
    assert client.get(path, params={"max_id": newest_first[-1]}).json() == []
    assert "link" not in client.get(path, params={"max_id": newest_first[-1]}).headers
    assert client.get(path, params={"max_id": "nope"}).json() == []  # as Rails reads it: compared with NULL
    assert _ids(client.get(path, params={"max_id": "99999999999999999999"})) == newest_first  # no bound


def test_statuses_of_unknown_or_blocking_accounts(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    publish(client, "ana", "hello")
    act(client, actions.block, "ana", services_of(client).urls.actor_id("ben"))
    assert client.get(f"/api/v1/accounts/{ana.actor_id}/statuses", headers=token_for(ben)).json() == []
    assert client.get("/api/v1/accounts/424242/statuses").json() == NOT_FOUND


# --- followers and following ----------------------------------------------------------------------------


def test_followers_and_following(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana = make_user("ana")
    for name in ("ben", "cy", "dee"):
        make_user(name)
        act(client, actions.follow, name, services_of(client).urls.actor_id("ana"))
    make_user("eve")
    act(client, actions.update_profile, "ana", _changes(locked=True))
    act(client, actions.follow, "eve", services_of(client).urls.actor_id("ana"))  # pending: not listed
    act(client, actions.follow, "ana", services_of(client).urls.actor_id("ben"))
    followers = client.get(f"/api/v1/accounts/{ana.actor_id}/followers")
    assert followers.status_code == 200
    assert [item["username"] for item in followers.json()] == ["dee", "cy", "ben"]
    for item in followers.json():
        assert_account(item)
    page = client.get(f"/api/v1/accounts/{ana.actor_id}/followers", params={"limit": 2})
    assert [item["username"] for item in page.json()] == ["dee", "cy"]
    assert 'rel="next"' in page.headers["link"]
    next_url = page.headers["link"].split(">")[0].lstrip("<").removeprefix("http://127.0.0.1:8765")
    assert [item["username"] for item in client.get(next_url).json()] == ["ben"]
    following = client.get(f"/api/v1/accounts/{ana.actor_id}/following", headers=token_for(ana))
    assert [item["username"] for item in following.json()] == ["ben"]
    assert client.get("/api/v1/accounts/987654/followers").json() == NOT_FOUND


def test_remote_accounts_lists_are_not_copied(client: TestClient) -> None:
    remote = _remote_actor(client)
    assert client.get(f"/api/v1/accounts/{remote.id}/followers").json() == []
    assert client.get(f"/api/v1/accounts/{remote.id}/following").json() == []


# --- the small ones -------------------------------------------------------------------------------------


def test_preferences_and_empty_lists(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    ana = make_user("ana")
    preferences = client.get("/api/v1/preferences", headers=token_for(ana, "read:accounts"))
    assert preferences.status_code == 200
    assert_shape(preferences.json(), PREFERENCES_KEYS)
    assert preferences.json()["posting:default:visibility"] == "public"
    assert client.get("/api/v1/preferences").status_code == 401
    assert client.get("/api/v1/preferences", headers=token_for(ana, "write")).status_code == 403
    for path in ("/api/v1/endorsements", "/api/v1/featured_tags"):
        assert client.get(path, headers=token_for(ana)).json() == []
    for suffix in ("featured_tags", "identity_proofs"):
        assert client.get(f"/api/v1/accounts/{ana.actor_id}/{suffix}").json() == []
        assert client.get(f"/api/v1/accounts/31337/{suffix}").json() == NOT_FOUND


# --- through a client library ---------------------------------------------------------------------------


def test_mastodon_py_reads_and_changes_accounts(client: TestClient, make_user: Users, token_for: Tokens) -> None:
    """Mastodon.py parses every answer into its typed entities (dates, ids) and follows ``Link`` headers."""
    from mastodon import Mastodon

    from tests.fediverse.client_api.library_session import app_session

    ana, ben = make_user("ana"), make_user("ben")
    for number in range(3):
        publish(client, "ben", f"picture {number}")
    token = token_for(ana)["Authorization"].removeprefix("Bearer ")
    api = Mastodon(access_token=token, api_base_url="http://127.0.0.1:8765", session=app_session(client))
    assert api.retrieve_mastodon_version() == "4.3.0"
    assert api.instance_v2().configuration.statuses.max_characters == 2000
    assert api.instance_v1().stats.user_count == 2
    me = api.account_verify_credentials()
    assert me.acct == "ana"
    updated = api.account_update_credentials(
        display_name="Ana",
        note="hello there",
        avatar=encode(gradient(64, 64), "PNG"),
        avatar_mime_type="image/png",
        locked=True,
        fields=[("site", "https://example.com")],
    )
    assert updated.display_name == "Ana"
    assert updated.source.note == "hello there"
    assert "/media/" in updated.avatar
    assert str(api.account_lookup("ben").id) == str(ben.actor_id)
    relationship = api.account_follow(ben.actor_id)
    assert relationship.following is True
    assert api.account_relationships([ben.actor_id])[0].following is True
    first = api.account_statuses(ben.actor_id, limit=2)
    assert len(first) == 2
    rest = api.fetch_next(first)
    assert rest is not None and len(rest) == 1
    assert [account.acct for account in api.account_following(ana.actor_id)] == ["ben"]
    assert api.account_mute(ben.actor_id, notifications=False).muting_notifications is False
    assert [account.acct for account in api.mutes()] == ["ben"]
    assert api.account_block(ben.actor_id).blocking is True
    assert [account.acct for account in api.blocks()] == ["ben"]
    api.domain_block("far.example")
    assert api.domain_blocks() == ["far.example"]
    api.domain_unblock("far.example")
    assert api.domain_blocks() == []
    assert api.preferences()["posting:default:visibility"] == "public"
    assert [account.acct for account in api.search_v2("ben", result_type="accounts").accounts] == ["ben"]
    assert api.filters_v2() == [] and api.lists() == [] and api.trending_tags() == []

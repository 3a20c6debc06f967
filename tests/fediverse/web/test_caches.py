"""Caches where reads repeat (decision 0051): what a reader sees right after a change made in the same
process, conditional GETs, and the anonymous answers kept briefly never reaching anyone else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from fediverse.core.instance_settings import InstanceInfo, save_instance_settings
from fediverse.social import actions
from fediverse.social.profiles import ProfileChanges
from storage.models import Account, Post
from tests.conftest import run_in_app, services_of
from tests.fediverse.web.conftest import BROWSER, form_token_of, page_url, sign_in

AS2 = {"Accept": "application/activity+json"}


class Stranger:
    """Another browser on the same running app: its own cookie jar, never signed in."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.cookies = type(client.cookies)()

    def get(self, path: str, headers: dict[str, str]) -> Any:
        saved = self.client.cookies
        self.client.cookies = self.cookies
        try:
            response = self.client.get(path, headers=headers)
            self.cookies = self.client.cookies
            return response
        finally:
            self.client.cookies = saved


def rename_instance(client: TestClient, name: str) -> None:
    services = services_of(client)

    async def save() -> None:
        async with services.db.transaction() as session:
            await save_instance_settings(session, InstanceInfo(name=name, description="", registrations="open"))

    run_in_app(client, save)


def rename_account(client: TestClient, username: str, display_name: str) -> None:
    services = services_of(client)

    async def edit() -> None:
        await actions.update_profile(services, username, ProfileChanges(display_name, "", False))

    run_in_app(client, edit)


def test_a_new_instance_name_is_on_the_very_next_page(client: TestClient, make_member: Callable[..., Account]) -> None:
    make_member("ana")
    assert "Reverie" in client.get("/@ana", headers=BROWSER).text
    rename_instance(client, "Lumen Garden")
    assert "Lumen Garden" in client.get("/@ana", headers=BROWSER).text
    assert "Lumen Garden" in client.get("/about", headers=BROWSER).text
    assert client.get("/nodeinfo/2.1").json()["metadata"]["nodeName"] == "Lumen Garden"


def test_a_profile_edit_is_in_the_next_actor_document_and_profile_page(
    client: TestClient, make_member: Callable[..., Account]
) -> None:
    make_member("ana")
    assert client.get("/users/ana", headers=AS2).json()["name"] == "ana"
    assert client.get("/@ana", headers=BROWSER).status_code == 200
    rename_account(client, "ana", "Ana the Painter")
    assert client.get("/users/ana", headers=AS2).json()["name"] == "Ana the Painter"
    assert client.get("/@ana", headers=AS2).json()["name"] == "Ana the Painter"
    assert "Ana the Painter" in client.get("/@ana", headers=BROWSER).text


def test_webfinger_finds_an_account_made_after_it_answered_404(
    client: TestClient, make_member: Callable[..., Account]
) -> None:
    finger = "/.well-known/webfinger?resource=acct:bea@127.0.0.1:8765"
    assert client.get(finger).status_code == 404
    make_member("bea")
    assert client.get(finger).json()["subject"] == "acct:bea@127.0.0.1:8765"


def test_anonymous_pages_and_documents_answer_conditional_gets(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    make_member("ana")
    post = post_as("ana", caption="first light #dawn")
    for path, headers in (
        (page_url("ana", post), BROWSER),
        ("/@ana", BROWSER),
        ("/tags/dawn", BROWSER),
        (f"/users/ana/statuses/{post.id}", AS2),
        ("/users/ana", AS2),
        ("/users/ana/outbox?page=true", AS2),
    ):
        first = client.get(path, headers=headers)
        assert first.status_code == 200, path
        etag = first.headers["etag"]
        again = client.get(path, headers={**headers, "If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == etag
        other = client.get(path, headers={**headers, "If-None-Match": '"something-else"'})
        assert other.status_code == 200, path
        assert other.content == first.content


def test_an_edited_post_is_served_at_once_and_its_old_etag_no_longer_matches(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    make_member("ana")
    post = post_as("ana", caption="before the edit")
    page = client.get(page_url("ana", post), headers=BROWSER)
    note = client.get(f"/users/ana/statuses/{post.id}", headers=AS2)
    assert "before the edit" in page.text and "before the edit" in note.text
    services = services_of(client)

    async def edit() -> None:
        await actions.edit_post(services, "ana", post.ap_id, caption="after the edit")

    run_in_app(client, edit)
    page_after = client.get(page_url("ana", post), headers={**BROWSER, "If-None-Match": page.headers["etag"]})
    note_after = client.get(f"/users/ana/statuses/{post.id}", headers={**AS2, "If-None-Match": note.headers["etag"]})
    assert page_after.status_code == 200 and "after the edit" in page_after.text
    assert note_after.status_code == 200 and "after the edit" in note_after.text


def test_a_deleted_post_is_gone_at_once_for_strangers(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    make_member("ana")
    post = post_as("ana", caption="soon gone")
    assert client.get(page_url("ana", post), headers=BROWSER).status_code == 200
    assert client.get(f"/users/ana/statuses/{post.id}", headers=AS2).status_code == 200
    assert "soon gone" in client.get("/@ana", headers=BROWSER).text
    services = services_of(client)

    async def delete() -> None:
        await actions.delete_post(services, "ana", post.ap_id)

    run_in_app(client, delete)
    assert client.get(page_url("ana", post), headers=BROWSER).status_code == 404
    assert client.get(f"/users/ana/statuses/{post.id}", headers=AS2).status_code == 410
    assert "soon gone" not in client.get("/@ana", headers=BROWSER).text


def test_signed_in_pages_are_personal_and_never_shared(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    make_member("ana")
    make_member("bea")
    post = post_as("ana", caption="for everyone")
    stranger = Stranger(client)
    # A stranger's visit is kept…
    seen_by_stranger = stranger.get(page_url("ana", post), headers=BROWSER)
    assert "csrf_token" not in seen_by_stranger.text
    # …but a signed-in reader gets their own page, with no validator to share
    sign_in(client, "bea")
    seen_by_bea = client.get(page_url("ana", post), headers=BROWSER)
    assert 'name="csrf_token"' in seen_by_bea.text
    assert "etag" not in seen_by_bea.headers
    assert seen_by_bea.headers["cache-control"] == "private, no-store"
    assert (
        client.get(
            page_url("ana", post), headers={**BROWSER, "If-None-Match": seen_by_stranger.headers["etag"]}
        ).status_code
        == 200
    )
    # and what bea saw never reaches the stranger
    again = stranger.get(page_url("ana", post), headers=BROWSER)
    assert 'name="csrf_token"' not in again.text


def test_every_stranger_keeps_their_own_form_token(client: TestClient, make_member: Callable[..., Account]) -> None:
    make_member("ana")
    first, second = Stranger(client), Stranger(client)
    page_one = first.get("/@ana", headers=BROWSER)
    page_two = second.get("/@ana", headers=BROWSER)
    token_one, token_two = form_token_of(page_one.text), form_token_of(page_two.text)
    assert token_one != token_two
    assert first.cookies.get("reverie_form") == token_one
    assert second.cookies.get("reverie_form") == token_two
    # A stranger's second visit keeps the token their cookie holds, and 304s only with it
    assert form_token_of(first.get("/@ana", headers=BROWSER).text) == token_one
    assert first.get("/@ana", headers={**BROWSER, "If-None-Match": page_one.headers["etag"]}).status_code == 304
    assert second.get("/@ana", headers={**BROWSER, "If-None-Match": page_one.headers["etag"]}).status_code == 200


def test_followers_only_posts_are_neither_kept_nor_validated(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    make_member("ana")
    make_member("bea")
    post = post_as("ana", caption="friends only", visibility="followers")
    sign_in(client, "ana")
    own = client.get(page_url("ana", post), headers=BROWSER)
    assert own.status_code == 200 and "etag" not in own.headers
    assert Stranger(client).get(page_url("ana", post), headers=BROWSER).status_code == 404
    assert Stranger(client).get(f"/users/ana/statuses/{post.id}", headers=AS2).status_code == 404

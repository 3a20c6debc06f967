"""Mastodon.py against these endpoints, in process: the library's own requests go to the app through a
``requests`` adapter. It walks ``docs/api.md``'s example (paint, wait, describe) and the calls apps make
for media, notifications and markers, so the wire shapes are the ones a real client parses."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from mastodon import Mastodon
from starlette.testclient import TestClient

from fediverse.social import actions
from fediverse.social.posts import PostDraft
from storage.models import Account
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.client_api.library_session import app_session
from tests.fediverse.test_imaging import encode, gradient


def drain(client: TestClient) -> None:
    run_in_app(client, client.app_state["worker"].drain)


@pytest.fixture
def api(client: TestClient, make_user: Callable[..., Account], token_for: Callable[..., dict[str, str]]) -> Mastodon:
    token = token_for(make_user("ana"), "read write")["Authorization"].removeprefix("Bearer ")
    session = app_session(client)
    return Mastodon(access_token=token, api_base_url=TEST_BASE_URL, session=session, mastodon_version="4.3.0")


def test_the_documented_example_paints_and_describes_a_draft(client: TestClient, api: Mastodon) -> None:
    # The steps of docs/api.md's example, with the worker drained where the script sleeps
    headers = {"Authorization": f"Bearer {api.access_token}"}
    job = api.session.post(
        f"{api.api_base_url}/api/v1/reverie/generations",
        headers=headers,
        json={"prompt": "a lighthouse in fog", "width": 64, "height": 64, "seed": 42},
    ).json()
    while job["state"] in ("queued", "running"):
        drain(client)
        job = api.session.get(job["url"], headers=headers).json()
    assert job["state"] == "succeeded", job
    media_id = job["media_ids"][0]
    described = api.media_update(media_id, description="A lighthouse in fog", focus=(0.2, -0.4))
    assert described.description == "A lighthouse in fog" and described.meta.focus.x == 0.2
    assert api.media(media_id).url == job["media_attachments"][0]["url"]


def test_upload_notifications_and_markers_as_the_library_calls_them(
    client: TestClient, api: Mastodon, make_user: Callable[..., Account]
) -> None:
    picture = encode(gradient(320, 240), "PNG")
    media = api.media_post(picture, mime_type="image/png", description="Teal to pink", focus=(0.5, 0.5))
    assert media.url and media.description == "Teal to pink" and media.meta.small.width == 320
    # Ben follows ana and likes her post
    services = services_of(client)
    post = run_in_app(client, actions.publish, services, "ana", PostDraft(caption="hello", media_ids=[int(media.id)]))
    make_user("ben")
    run_in_app(client, actions.follow, services, "ben", f"{TEST_BASE_URL}/users/ana")
    run_in_app(client, actions.like, services, "ben", post.ap_id)
    notifications = api.notifications()
    assert [item.type for item in notifications] == ["favourite", "follow"]
    assert notifications[0].status.media_attachments[0].description == "Teal to pink"
    assert [item.type for item in api.notifications(types=["follow"])] == ["follow"]
    assert api.notifications(id=notifications[0].id).account.acct == "ben"
    assert api.notifications_unread_count().count == 2
    marker = api.markers_set("notifications", notifications[0].id)
    assert marker.notifications.last_read_id == notifications[0].id
    assert api.markers_get(["home", "notifications"]).notifications.version == 0
    assert api.notifications_unread_count().count == 0
    api.notifications_dismiss(notifications[0].id)
    assert [item.type for item in api.notifications()] == ["follow"]
    api.notifications_clear()
    assert api.notifications() == []

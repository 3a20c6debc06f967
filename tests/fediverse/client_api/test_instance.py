"""``/api/v1/instance``, ``/api/v2/instance`` and the small instance endpoints, as a client reads them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from fediverse import __version__
from fediverse.core.instance_settings import InstanceInfo, save_instance_settings
from fediverse.core.text import MAX_CAPTION_LENGTH
from fediverse.imaging import ImageLimits
from fediverse.social import actions
from fediverse.social.posts import MAX_ATTACHMENTS, PostDraft
from fediverse.studio.drafts import MAX_ALT_TEXT
from storage.models import Account
from tests.conftest import run_in_app, services_of
from tests.fediverse.client_api.shapes import (
    CONTACT_KEYS,
    INSTANCE_V1_CONFIGURATION_KEYS,
    INSTANCE_V1_KEYS,
    INSTANCE_V2_CONFIGURATION_KEYS,
    INSTANCE_V2_KEYS,
    MEDIA_CONFIGURATION_KEYS,
    POLLS_CONFIGURATION_KEYS,
    REGISTRATIONS_KEYS,
    STATS_KEYS,
    STATUSES_CONFIGURATION_KEYS,
    assert_account,
    assert_shape,
)


def _set_registrations(client: TestClient, mode: str, description: str = "") -> None:
    services = services_of(client)

    async def save() -> None:
        async with services.db.transaction() as session:
            await save_instance_settings(session, InstanceInfo("Dream Harbour", description, mode))

    run_in_app(client, save)


@pytest.mark.parametrize("path", ["/api/v2/instance", "/api/v2/instance/"])
def test_v2_instance_has_mastodons_shape_and_our_real_limits(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["access-control-allow-origin"] == "*"
    instance = response.json()
    assert_shape(instance, INSTANCE_V2_KEYS)
    assert instance["version"] == f"4.3.0 (compatible; Reverie {__version__})"
    assert instance["api_versions"] == {"mastodon": 2}
    assert instance["domain"] == "127.0.0.1:8765"
    configuration = instance["configuration"]
    assert_shape(configuration, INSTANCE_V2_CONFIGURATION_KEYS, lists=())
    assert configuration["urls"]["streaming"] == "ws://127.0.0.1:8765"
    assert configuration["vapid"] == {"public_key": ""}
    assert configuration["translation"] == {"enabled": False}
    assert configuration["accounts"] == {"max_featured_tags": 0, "max_pinned_statuses": 5}
    assert_shape(configuration["statuses"], STATUSES_CONFIGURATION_KEYS)
    assert configuration["statuses"]["max_characters"] == MAX_CAPTION_LENGTH
    assert configuration["statuses"]["max_media_attachments"] == MAX_ATTACHMENTS
    media = configuration["media_attachments"]
    assert_shape(media, MEDIA_CONFIGURATION_KEYS)
    assert media["supported_mime_types"] == ["image/jpeg", "image/png", "image/webp", "image/gif"]
    assert media["image_size_limit"] == ImageLimits().max_bytes
    assert media["image_matrix_limit"] == ImageLimits().max_pixels
    assert media["description_limit"] == MAX_ALT_TEXT
    assert media["video_size_limit"] == 0
    assert_shape(configuration["polls"], POLLS_CONFIGURATION_KEYS)
    assert_shape(instance["registrations"], REGISTRATIONS_KEYS)
    assert_shape(instance["contact"], CONTACT_KEYS)
    assert instance["contact"]["account"] is None  # no admin yet
    assert instance["rules"] == []
    assert instance["usage"] == {"users": {"active_month": 0}}
    assert instance["thumbnail"]["url"].startswith("http://127.0.0.1:8765/")


@pytest.mark.parametrize("path", ["/api/v1/instance", "/api/v1/instance/"])
def test_v1_instance_counts_and_contact(client: TestClient, make_user: Callable[..., Account], path: str) -> None:
    make_user("ana", is_admin=True)
    make_user("ben")
    run_in_app(client, actions.publish, services_of(client), "ana", PostDraft(caption="harbour"))
    _set_registrations(client, "invite", "A quiet place.\n\nFor dreams & <pictures>.")
    instance = client.get(path).json()
    assert_shape(instance, INSTANCE_V1_KEYS)
    assert_shape(instance["configuration"], INSTANCE_V1_CONFIGURATION_KEYS, lists=())
    assert_shape(instance["stats"], STATS_KEYS)
    assert instance["stats"] == {"user_count": 2, "status_count": 1, "domain_count": 0}
    assert instance["uri"] == "127.0.0.1:8765"
    assert instance["title"] == "Dream Harbour"
    assert instance["short_description"] == "A quiet place.\n\nFor dreams & <pictures>."
    assert instance["description"] == "<p>A quiet place.</p><p>For dreams &amp; &lt;pictures&gt;.</p>"
    assert instance["registrations"] is False
    assert instance["invites_enabled"] is True
    assert instance["urls"] == {"streaming_api": "ws://127.0.0.1:8765"}
    assert instance["version"].startswith("4.3.0 (compatible; Reverie ")
    assert_account(instance["contact_account"])
    assert instance["contact_account"]["username"] == "ana"


@pytest.mark.parametrize(("mode", "enabled"), [("open", True), ("invite", False), ("closed", False)])
def test_registrations_follow_the_instance_setting(client: TestClient, mode: str, enabled: bool) -> None:
    _set_registrations(client, mode)
    v2 = client.get("/api/v2/instance").json()["registrations"]
    assert v2["enabled"] is enabled
    assert v2["approval_required"] is False
    assert (v2["message"] is None) is enabled
    assert client.get("/api/v1/instance").json()["registrations"] is enabled


def test_peers_are_the_domains_we_know(client: TestClient) -> None:
    from storage.models import Actor, DomainBlock

    services = services_of(client)

    async def add() -> None:
        async with services.db.transaction() as session:
            for number, domain in enumerate(["b.example", "a.example", "a.example", "blocked.example"]):
                session.add(
                    Actor(
                        ap_id=f"https://{domain}/users/u{number}",
                        username=f"u{number}",
                        domain=domain,
                        inbox_url=f"https://{domain}/inbox",
                    )
                )
            session.add(DomainBlock(domain="blocked.example"))

    run_in_app(client, add)
    assert client.get("/api/v1/instance/peers").json() == ["a.example", "b.example"]
    assert client.get("/api/v1/instance").json()["stats"]["domain_count"] == 3


@pytest.mark.parametrize("path", ["/api/v1/instance/rules", "/api/v1/instance/activity", "/api/v1/custom_emojis"])
def test_empty_lists(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == []


def test_extended_description_is_html(client: TestClient) -> None:
    _set_registrations(client, "closed", "Pictures <3")
    document = client.get("/api/v1/instance/extended_description").json()
    assert document["content"] == "<p>Pictures &lt;3</p>"
    assert document["updated_at"].endswith("Z")


def test_instance_needs_no_token_and_ignores_a_bad_one(client: TestClient) -> None:
    response = client.get("/api/v2/instance", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 200

"""Media through the client API: ``POST /api/v2/media`` and ``/api/v1/media``, ``GET``/``PUT``/``DELETE
/api/v1/media/:id`` — Mastodon's ``MediaAttachment``, drafts only, the owner only, bad files refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from fediverse.social import actions
from fediverse.social.posts import PostDraft
from storage.models import Account
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.test_imaging import encode, gradient, png_declaring

Headers = dict[str, str]
TokenFor = Callable[..., Headers]
ATTACHMENT_FIELDS = {"id", "type", "url", "preview_url", "remote_url", "meta", "description", "blurhash"}


def upload(client: TestClient, headers: Headers, data: bytes, *, path: str = "/api/v2/media", **fields: str) -> Any:
    return client.post(path, headers=headers, files={"file": ("picture.png", data, "image/png")}, data=fields)


def png(width: int = 300, height: int = 200) -> bytes:
    return encode(gradient(width, height), "PNG")


@pytest.fixture
def ana(make_user: Callable[..., Account]) -> Account:
    return make_user("ana")


@pytest.fixture
def headers(ana: Account, token_for: TokenFor) -> Headers:
    return token_for(ana, "write:media")


def test_an_upload_is_a_processed_attachment_shaped_as_mastodons(client: TestClient, headers: Headers) -> None:
    # When an app uploads a picture with a description and a focal point
    response = upload(client, headers, png(1600, 1200), description="A gradient", focus="0.5,-0.25")
    # Then it is processed at once: 200 with its url, not 202
    assert response.status_code == 200, response.text
    media = response.json()
    assert set(media) >= ATTACHMENT_FIELDS
    assert isinstance(media["id"], str) and media["type"] == "image"
    assert media["url"].startswith(f"{TEST_BASE_URL}/media/") and media["preview_url"].startswith(TEST_BASE_URL)
    assert media["remote_url"] is None and media["description"] == "A gradient"
    assert len(media["blurhash"]) == 36
    # And meta gives the display copy's and the thumbnail's sizes, and the focus
    assert media["meta"]["original"] == {"width": 1280, "height": 960, "size": "1280x960", "aspect": 1280 / 960}
    assert media["meta"]["small"] == {"width": 400, "height": 300, "size": "400x300", "aspect": 400 / 300}
    assert media["meta"]["focus"] == {"x": 0.5, "y": -0.25}
    # And the files are there to fetch
    assert client.get(media["url"].removeprefix(TEST_BASE_URL)).status_code == 200
    # And reading it back gives the same attachment
    again = client.get(f"/api/v1/media/{media['id']}", headers=headers)
    assert again.status_code == 200 and again.json() == media


def test_the_older_upload_and_a_small_picture(client: TestClient, headers: Headers) -> None:
    response = upload(client, headers, png(300, 200), path="/api/v1/media")
    assert response.status_code == 200
    media = response.json()
    assert media["description"] is None and media["meta"]["focus"] == {"x": 0.0, "y": 0.0}
    assert media["meta"]["original"]["size"] == media["meta"]["small"]["size"] == "300x200"


def test_description_and_focus_change_with_put_as_form_or_json(client: TestClient, headers: Headers) -> None:
    media_id = upload(client, headers, png()).json()["id"]
    as_form = client.put(f"/api/v1/media/{media_id}", headers=headers, data={"description": "Soft", "focus": "-1,1"})
    assert as_form.status_code == 200, as_form.text
    assert as_form.json()["description"] == "Soft" and as_form.json()["meta"]["focus"] == {"x": -1.0, "y": 1.0}
    as_json = client.put(f"/api/v1/media/{media_id}", headers=headers, json={"focus": "0.1,0.2"})
    assert as_json.status_code == 200
    assert as_json.json()["description"] == "Soft" and as_json.json()["meta"]["focus"] == {"x": 0.1, "y": 0.2}
    cleared = client.put(f"/api/v1/media/{media_id}", headers=headers, data={"description": ""})
    assert cleared.json()["description"] is None
    assert client.get(f"/api/v1/media/{media_id}", headers=headers).json()["meta"]["focus"] == {"x": 0.1, "y": 0.2}


def test_bad_files_are_refused_with_a_reason(client: TestClient, headers: Headers) -> None:
    truncated = png(200, 200)[:150]
    for data, status, words in (
        (b"%PDF-1.7 not an image", 422, "not a supported image"),
        (truncated, 422, ""),
        (png_declaring(100_000, 100_000), 413, "too many pixels"),
        (png_declaring(9_000, 9_000), 413, "megapixels"),
    ):
        response = upload(client, headers, data)
        assert response.status_code == status, (data[:20], response.text)
        assert words in response.json()["error"]
    as_json = client.post("/api/v2/media", headers=headers, json={"file": "data:image/png;base64,AAAA"})
    assert as_json.status_code == 422 and "multipart/form-data" in as_json.json()["error"]
    no_file = client.post("/api/v2/media", headers=headers, data={"description": "x"}, files={"other": ("x", b"x")})
    assert no_file.status_code == 422 and "'file' field" in no_file.json()["error"]
    with_thumbnail = client.post(
        "/api/v2/media", headers=headers, files={"file": ("a.png", png(), "image/png"), "thumbnail": ("b.png", png())}
    )
    assert with_thumbnail.status_code == 400 and "error" in with_thumbnail.json()
    huge = client.post(
        "/api/v2/media",
        content=b"x" * 1024,
        headers={**headers, "Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(41 << 20)},
    )
    assert huge.status_code == 413


@pytest.mark.parametrize("focus", ["2,0", "0,-1.5", "1e400,0", "nan,0", "abc", "0.5", "0,0,0", "0.1;0.2"])
def test_focus_values_out_of_range_are_refused(client: TestClient, headers: Headers, focus: str) -> None:
    response = upload(client, headers, png(), focus=focus)
    assert response.status_code == 422 and "focus" in response.json()["error"]
    media_id = upload(client, headers, png()).json()["id"]
    edit = client.put(f"/api/v1/media/{media_id}", headers=headers, data={"focus": focus})
    assert edit.status_code == 422 and "focus" in edit.json()["error"]


def test_long_or_wrongly_typed_descriptions_are_refused(client: TestClient, headers: Headers) -> None:
    assert upload(client, headers, png(), description="x" * 1501).status_code == 422
    assert upload(client, headers, png(), description="a\x00b").status_code == 422
    media_id = upload(client, headers, png()).json()["id"]
    for body in (
        {"description": 3},
        {"description": ["a"]},
        {"description": "x" * 1501},
        {"description": "a\x00b"},
        {"focus": [0.1]},
    ):
        response = client.put(f"/api/v1/media/{media_id}", headers=headers, json=body)
        assert response.status_code == 422, body
    bad_json = client.put(
        f"/api/v1/media/{media_id}", headers={**headers, "Content-Type": "application/json"}, content=b"{nope"
    )
    assert bad_json.status_code == 400 and "error" in bad_json.json()


def test_media_is_its_owners_and_only_while_a_draft(
    client: TestClient, ana: Account, headers: Headers, make_user: Callable[..., Account], token_for: TokenFor
) -> None:
    media_id = upload(client, headers, png()).json()["id"]
    ben = token_for(make_user("ben"), "write:media")
    # Another account sees no such attachment
    assert client.get(f"/api/v1/media/{media_id}", headers=ben).status_code == 404
    assert client.put(f"/api/v1/media/{media_id}", headers=ben, data={"description": "mine"}).status_code == 404
    assert client.delete(f"/api/v1/media/{media_id}", headers=ben).status_code == 404
    # Unknown and malformed ids are 404 too, with Mastodon's error body
    for path in ("/api/v1/media/999999", "/api/v1/media/abc", "/api/v1/media/99999999999999999999"):
        response = client.get(path, headers=headers)
        assert response.status_code == 404 and "error" in response.json()
    # Once posted, the attachment is the post's: edited through the status, not here
    services = services_of(client)
    run_in_app(client, actions.publish, services, "ana", PostDraft(caption="posted", media_ids=[int(media_id)]))
    assert client.get(f"/api/v1/media/{media_id}", headers=headers).status_code == 404
    assert client.put(f"/api/v1/media/{media_id}", headers=headers, data={"description": "x"}).status_code == 404
    assert client.delete(f"/api/v1/media/{media_id}", headers=headers).status_code == 404


def test_a_draft_can_be_deleted(client: TestClient, headers: Headers) -> None:
    media = upload(client, headers, png(320, 240)).json()
    response = client.delete(f"/api/v1/media/{media['id']}", headers=headers)
    assert response.status_code == 200 and response.json() == {}
    assert client.get(f"/api/v1/media/{media['id']}", headers=headers).status_code == 404
    assert client.get(media["url"].removeprefix(TEST_BASE_URL)).status_code == 404


def test_uploading_needs_a_user_token_with_write_media(client: TestClient, ana: Account, token_for: TokenFor) -> None:
    data = png()
    assert upload(client, {}, data).status_code == 401
    assert upload(client, {"Authorization": "Bearer nope"}, data).status_code == 401
    refused = upload(client, token_for(ana, "read write:statuses"), data)
    assert refused.status_code == 403 and "write:media" in refused.json()["error"]
    assert upload(client, token_for(None, "write"), data).status_code == 401  # an app token has no account
    assert upload(client, token_for(ana, "write"), data).status_code == 200
    media_id = upload(client, token_for(ana, "write:media"), data).json()["id"]
    assert client.get(f"/api/v1/media/{media_id}", headers=token_for(ana, "read")).status_code == 403

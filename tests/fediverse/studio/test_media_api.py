"""Uploading images as drafts, editing and discarding drafts, and serving media files."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from PIL import Image
from starlette.testclient import TestClient

from storage.models import Account
from tests.conftest import TEST_BASE_URL
from tests.fediverse.studio.conftest import Browser, generate, sign_in
from tests.fediverse.test_imaging import GPS_IFD, encode, gradient, png_declaring

DRAFT_CACHING = "private, no-cache"  # a draft is its owner's alone (decision 0047)


def upload(browser: Browser, data: bytes, *, alt_text: str | None = None, name: str = "photo.jpg") -> Any:
    fields = {"alt_text": alt_text} if alt_text is not None else {}
    return browser.post("/api/media", files={"file": (name, data, "image/jpeg")}, data=fields)


def path_of(url: str) -> str:
    assert url.startswith(TEST_BASE_URL + "/media/")
    return url.removeprefix(TEST_BASE_URL)


def photo_with_gps() -> bytes:
    exif = Image.Exif()
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    return encode(gradient(1600, 1200), "JPEG", exif=exif.tobytes())


def test_an_upload_becomes_a_clean_draft_served_with_cache_headers(ana: Browser) -> None:
    # Given a phone photo with its location in the EXIF
    response = upload(ana, photo_with_gps(), alt_text="A gradient from teal to pink")
    # Then the draft describes the display copy, with a thumbnail and a placeholder
    assert response.status_code == 201
    media = response.json()
    assert (media["width"], media["height"], media["mime"]) == (1280, 960, "image/jpeg")
    assert media["alt_text"] == "A gradient from teal to pink"
    assert len(media["blurhash"]) == 36
    assert "generation" not in media and "digital_source_type" not in media
    # And the served file has lost the location; it is a draft, so kept by no shared cache, with a content ETag
    served = ana.get(path_of(media["url"]))
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["cache-control"] == DRAFT_CACHING
    digest = media["url"].rsplit("/", 1)[-1].split(".")[0]
    assert served.headers["etag"] == f'"{digest}"'
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.size == (1280, 960)
        assert GPS_IFD not in image.getexif()
    thumbnail = ana.get(path_of(media["thumbnail_url"]))
    assert thumbnail.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(thumbnail.content)) as image:
        assert max(image.size) == 400
    # And a browser that has it gets 304, a HEAD gets headers only
    again = ana.get(path_of(media["url"]), headers={"If-None-Match": served.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    head = ana.client.head(path_of(media["url"]))
    assert head.status_code == 200 and head.headers["content-length"] == str(len(served.content))


def test_bad_uploads_are_refused_with_a_reason(ana: Browser) -> None:
    not_image = upload(ana, b"%PDF-1.7 not an image")
    assert not_image.status_code == 415
    assert "not a supported image" in not_image.json()["error"]
    bomb = upload(ana, png_declaring(100_000, 100_000), name="bomb.png")
    assert bomb.status_code == 413
    assert "too many pixels" in bomb.json()["error"]
    many_pixels = upload(ana, png_declaring(9_000, 9_000), name="bomb.png")
    assert many_pixels.status_code == 413
    assert "megapixels" in many_pixels.json()["error"]
    no_file = ana.post("/api/media", data={"alt_text": "nothing"}, files={"other": ("x", b"x")})
    assert no_file.status_code == 400 and "'file' field" in no_file.json()["error"]
    as_json = ana.post("/api/media", json={"file": "data:image/png;base64,AAAA"})
    assert as_json.status_code == 415
    long_alt = upload(ana, encode(gradient(64, 64), "PNG"), alt_text="x" * 1501)
    assert long_alt.status_code == 400


def test_an_oversized_body_is_refused_before_it_is_read(ana: Browser) -> None:
    huge = 41 * 1024 * 1024
    response = ana.post(
        "/api/media",
        content=b"x" * 1024,
        headers={"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(huge)},
    )
    assert response.status_code == 413
    assert "too large: at most 40 MB" in response.json()["error"]


def test_uploading_needs_a_session_and_the_csrf_token(client: TestClient, ana: Browser) -> None:
    data = encode(gradient(64, 64), "PNG")
    assert client.post("/api/media", files={"file": ("a.png", data, "image/png")}).status_code == 403
    client.cookies.clear()
    assert client.post("/api/media", files={"file": ("a.png", data, "image/png")}).status_code == 401


def test_alt_text_and_focal_point_of_a_draft_can_be_edited(ana: Browser) -> None:
    media = upload(ana, encode(gradient(300, 200), "PNG")).json()
    edited = ana.patch(f"/api/media/{media['id']}", json={"alt_text": "Soft colours", "focal_x": 0.5, "focal_y": -1})
    assert edited.status_code == 200
    assert edited.json() | {} == {**media, "alt_text": "Soft colours", "focal_x": 0.5, "focal_y": -1.0}
    for body, message in (
        ({"focal_x": 1.5}, "-1 to 1"),
        ({"focal_y": "top"}, "focal_y must be a number"),
        ({"alt_text": 3}, "alt_text must be text"),
        ({"alt_text": "x" * 1501}, "at most 1500"),
    ):
        refused = ana.patch(f"/api/media/{media['id']}", json=body)
        assert refused.status_code == 400 and message in refused.json()["error"], body


def test_drafts_belong_to_their_owner(client: TestClient, ana: Browser, make_user: Callable[..., Account]) -> None:
    media = upload(ana, encode(gradient(64, 64), "PNG")).json()
    ben = sign_in(client, make_user("ben"))
    assert ben.patch(f"/api/media/{media['id']}", json={"alt_text": "mine now"}).status_code == 404
    assert ben.delete(f"/api/media/{media['id']}").status_code == 404
    assert ben.delete("/api/media/nope").status_code == 404


def test_discarding_a_draft_deletes_files_nothing_else_uses(ana: Browser) -> None:
    # Given the same picture uploaded twice, and another one
    data = encode(gradient(500, 300), "PNG")
    first, second = (upload(ana, data).json() for _ in range(2))
    assert first["url"] == second["url"]  # content-addressed: one file
    # When one copy is discarded, the shared file stays for the other
    assert ana.delete(f"/api/media/{first['id']}").status_code == 204
    assert ana.get(path_of(second["url"])).status_code == 200
    # When the last copy is discarded, the files are gone
    assert ana.delete(f"/api/media/{second['id']}").status_code == 204
    assert ana.get(path_of(second["url"])).status_code == 404
    assert ana.get(path_of(second["thumbnail_url"])).status_code == 404
    assert ana.delete(f"/api/media/{second['id']}").status_code == 404


def test_published_images_cannot_be_edited_or_discarded_as_drafts(ana: Browser) -> None:
    media = generate(ana)["media"][0]
    assert ana.post("/api/posts", json={"media_ids": [media["id"]]}).status_code == 201
    for response in (
        ana.patch(f"/api/media/{media['id']}", json={"alt_text": "changed"}),
        ana.delete(f"/api/media/{media['id']}"),
    ):
        assert response.status_code == 409
        assert "part of a post" in response.json()["error"]
    assert ana.get(path_of(media["url"])).status_code == 200


def test_media_keys_that_are_not_ours_are_not_found(ana: Browser) -> None:
    for path in (
        "/media/../../reverie.db",
        "/media/ab/cd/not-a-digest.jpg",
        "/media/" + "ab/cd/" + "0" * 64 + ".exe",
        "/media/" + "ab/cd/" + "0" * 64 + ".jpg",
    ):
        response = ana.get(path)
        assert response.status_code == 404, path

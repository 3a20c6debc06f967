"""Uploading a picture from the compose page without JavaScript: a plain multipart form, a draft, the
compose page showing it, publishing it honestly (no prompt, no AI label), and refusals in the page."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

from PIL.PngImagePlugin import PngInfo
from sqlalchemy import func, select
from starlette.testclient import TestClient

from fediverse.services import Services
from storage.models import Account, Media, MediaState, Post
from tests.conftest import run_in_app, services_of
from tests.fediverse.test_imaging import encode, gradient, png_declaring
from tests.fediverse.web.conftest import BROWSER, sign_in


def _upload(client: TestClient, token: str | None, data: bytes, **headers: str) -> object:
    fields = {"csrf_token": token} if token else {}
    return client.post(
        "/compose/upload",
        data=fields,
        files={"file": ("holiday.jpg", data, "image/jpeg")},
        headers={**BROWSER, **headers},
        follow_redirects=False,
    )


def _drafts(client: TestClient) -> list[Media]:
    async def load(services: Services) -> list[Media]:
        async with services.db.session() as session:
            return list(await session.scalars(select(Media).where(Media.state == MediaState.DRAFT)))

    return run_in_app(client, load, services_of(client))


def _stored_files(client: TestClient) -> int:
    media_dir = services_of(client).settings.media_dir
    return sum(1 for path in media_dir.rglob("*") if path.is_file()) if media_dir.exists() else 0


def test_an_uploaded_picture_is_published_with_its_alt_text_and_no_ai_label(
    client: TestClient, make_member: Callable[..., Account]
) -> None:
    make_member("ana")
    token = sign_in(client, "ana")
    # Given Ana uploads a photo through the plain form,
    response = _upload(client, token, encode(gradient(320, 240), "JPEG"))
    # then she is back on compose with the draft attached.
    assert response.status_code == 303  # type: ignore[attr-defined]
    location = response.headers["location"]  # type: ignore[attr-defined]
    (draft,) = _drafts(client)
    assert location == f"/compose?media={draft.id}"
    assert draft.generation is None and draft.digital_source_type is None
    compose = client.get(location, headers=BROWSER).text
    assert f'data-media-id="{draft.id}"' in compose and 'action="/compose/pictures"' in compose
    assert f'name="alt_text_{draft.id}"' in compose
    # When she describes it and publishes,
    published = client.post(
        "/compose/pictures",
        data={
            "csrf_token": token,
            "media_ids": str(draft.id),
            f"alt_text_{draft.id}": "A red kite over the dunes",
            "caption": "Sunday by the sea",
            "mood_emoji": "🌊",
            "mood_word": "drifting",
            "visibility": "public",
        },
        headers=BROWSER,
    )
    # then the post page shows the picture with its description, and nothing claims it was generated.
    assert published.status_code == 200 and "Sunday by the sea" in published.text
    assert re.search(r'<img src="[^"]+/media/[^"]+" alt="A red kite over the dunes"', published.text)
    assert 'class="generation' not in published.text and "AIArt" not in published.text
    assert "Generated with" not in published.text and "prompt" not in published.text.lower().split("<main")[1]
    assert _drafts(client) == []


def test_an_upload_that_declares_itself_ai_made_keeps_that_label_but_shows_no_prompt(
    client: TestClient, make_member: Callable[..., Account]
) -> None:
    make_member("ana")
    token = sign_in(client, "ana")
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/>'
        "</rdf:RDF></x:xmpmeta>"
    )
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp)
    buffer = io.BytesIO()
    gradient(64, 64).save(buffer, "PNG", pnginfo=info)
    _upload(client, token, buffer.getvalue())
    (draft,) = _drafts(client)
    assert draft.digital_source_type == "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    assert draft.generation is None
    page = client.post(
        "/compose/pictures",
        data={"csrf_token": token, "media_ids": str(draft.id), f"alt_text_{draft.id}": "A soft gradient"},
        headers=BROWSER,
    ).text
    assert "#AIArt" in page or "/tags/aiart" in page.lower()
    assert 'class="generation' not in page and "Generated with" not in page


def test_refused_uploads_explain_themselves_and_store_nothing(
    client: TestClient, make_member: Callable[..., Account]
) -> None:
    make_member("ana")
    token = sign_in(client, "ana")
    files_before = _stored_files(client)
    not_an_image = _upload(client, token, b"%PDF-1.7 definitely not a picture")
    assert not_an_image.status_code == 415  # type: ignore[attr-defined]
    assert "not a supported image" in not_an_image.text and 'id="upload-error"' in not_an_image.text  # type: ignore[attr-defined]
    bomb = _upload(client, token, png_declaring(100_000, 100_000))
    assert bomb.status_code == 413 and "too many pixels" in bomb.text  # type: ignore[attr-defined]
    oversize = client.post(
        "/compose/upload",
        content=b"x" * 1024,
        headers={**BROWSER, "Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(41 * 1024 * 1024)},
    )
    assert oversize.status_code == 413 and "too large: at most 40 MB" in oversize.text
    assert "Upload a picture" in oversize.text  # the compose page, not a JSON blob
    assert _drafts(client) == [] and _stored_files(client) == files_before


def test_uploading_needs_the_csrf_token(client: TestClient, make_member: Callable[..., Account]) -> None:
    make_member("ana")
    sign_in(client, "ana")
    assert _upload(client, None, encode(gradient(64, 64), "PNG")).status_code == 403  # type: ignore[attr-defined]
    assert _drafts(client) == []


def test_nobody_publishes_or_sees_another_persons_upload(
    client: TestClient, make_member: Callable[..., Account]
) -> None:
    make_member("ana")
    make_member("ben")
    _upload(client, sign_in(client, "ana"), encode(gradient(64, 64), "PNG"))
    (draft,) = _drafts(client)
    client.cookies.clear()
    ben_token = sign_in(client, "ben")
    assert f'data-media-id="{draft.id}"' not in client.get(f"/compose?media={draft.id}", headers=BROWSER).text
    stolen = client.post(
        "/compose/pictures", data={"csrf_token": ben_token, "media_ids": str(draft.id)}, headers=BROWSER
    )
    assert stolen.status_code == 400 and "missing or already used" in stolen.text
    assert [item.id for item in _drafts(client)] == [draft.id]
    assert run_in_app(client, _count_posts, services_of(client)) == 0


async def _count_posts(services: Services) -> int:
    async with services.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Post)) or 0)

"""Deleting a post deletes its pictures: the files leave the media folder and their URLs answer 404,
except a file that something still alive uses (content addressing shares files)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from fediverse.housekeeping.sweep import ORPHAN_FILE_GRACE, SweepReport, sweep
from fediverse.services import Services
from fediverse.social import posts
from storage.models import Account, Media, Post
from storage.types import utcnow
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.studio.conftest import Browser, generate
from tests.fediverse.studio.test_media_api import path_of, upload
from tests.fediverse.test_imaging import encode, gradient

AS2 = {"Accept": "application/activity+json"}


def publish(browser: Browser, *media: dict[str, Any]) -> dict[str, Any]:
    response = browser.post("/api/posts", json={"media_ids": [item["id"] for item in media], "caption": "bye soon"})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def delete_from_the_web(browser: Browser, post: dict[str, Any]) -> None:
    response = browser.post(f"/posts/{post['id']}/delete", follow_redirects=False)
    assert response.status_code in (200, 303), response.text


def file_keys(client: TestClient, media_id: int) -> set[str]:
    async def load() -> set[str]:
        async with services_of(client).db.session() as session:
            media = await session.get(Media, media_id)
            assert media is not None
            return {key for key in (media.original_key, media.display_key, media.thumbnail_key) if key}

    return run_in_app(client, load)


async def sweep_later(services: Services) -> SweepReport:
    """A sweep as it runs once files left now are past their grace period."""
    return await sweep(services, now=utcnow() + ORPHAN_FILE_GRACE + timedelta(minutes=1))


def test_deleting_a_post_deletes_its_pictures(client: TestClient, ana: Browser) -> None:
    # Given ana published a generated picture, served in three copies
    media = generate(ana, prompt="a lighthouse in fog")["media"][0]
    keys = file_keys(client, media["id"])
    post = publish(ana, media)
    media_folder = services_of(client).settings.media_dir
    assert len(keys) >= 2 and all((media_folder / key).is_file() for key in keys)
    assert ana.get(path_of(media["url"])).status_code == 200
    # When she deletes the post
    delete_from_the_web(ana, post)
    # Then its id answers 410, its picture's URLs 404, and the files are gone from the media folder
    assert client.get(post["ap_id"].removeprefix(TEST_BASE_URL), headers=AS2).status_code == 410
    assert ana.get(path_of(media["url"])).status_code == 404
    assert ana.get(path_of(media["thumbnail_url"])).status_code == 404
    assert not [key for key in keys if (media_folder / key).exists()]


def test_a_file_that_a_draft_still_uses_outlives_the_deleted_post(client: TestClient, ana: Browser) -> None:
    # Given the same picture uploaded twice: one copy published, the other still a draft
    data = encode(gradient(300, 200), "PNG")
    published, kept = (upload(ana, data).json() for _ in range(2))
    assert published["url"] == kept["url"]
    post = publish(ana, published)
    # When the post is deleted
    delete_from_the_web(ana, post)
    # Then the draft's picture is still there
    assert ana.get(path_of(kept["url"])).status_code == 200
    assert ana.get(path_of(kept["thumbnail_url"])).status_code == 200


def test_files_left_by_a_crash_after_the_delete_are_swept(client: TestClient, ana: Browser) -> None:
    # Given a post whose delete committed, but the process died before its files were removed
    media = generate(ana)["media"][0]
    post = publish(ana, media)
    services = services_of(client)

    async def delete_rows_only() -> None:
        async with services.db.transaction() as session:
            account = await session.scalar(select(Account).where(Account.username == "ana"))
            row = await session.get(Post, int(post["id"]))
            assert account is not None and row is not None
            await posts.delete_post(session, services.urls, account, row)

    run_in_app(client, delete_rows_only)
    assert ana.get(path_of(media["url"])).status_code == 200  # orphaned, still on disk
    # When housekeeping sweeps once the file is past its grace period
    report = run_in_app(client, sweep_later, services)
    # Then the orphan files are gone
    assert report.files >= 2
    assert ana.get(path_of(media["url"])).status_code == 404

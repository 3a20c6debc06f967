"""The archive of everything an account posted, in Mastodon's layout: built by the worker, downloadable by its
owner alone; ``outbox.json`` re-reads as AS2 under pyld (JSON-LD 1.0 and 1.1) and active-boxes, and the zip
holds the pictures it points to."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import zipfile
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from starlette.testclient import TestClient

from fediverse.portability.jobs import ARCHIVE_LIFETIME, expire_archives
from fediverse.social import actions
from storage.models import Account, AccountJob
from storage.types import utcnow
from tests.conftest import run_in_app, services_of
from tests.fediverse.federation.conftest import act, drain, remote_note
from tests.fediverse.federation.test_jsonld_context import MODES, expand, problems
from tests.fediverse.portability.conftest import import_csv, rows_of
from tests.fediverse.studio.conftest import Browser, generate, sign_in
from tests.fediverse.test_imaging import encode, gradient
from tests.fediverse.web.conftest import BROWSER
from tests.interop.readers import reading_with_active_boxes
from tests.peers import FakePeer

ARCHIVE_ROOT = "file:///archive/"


def post(
    ana: Browser, caption: str, *, media: Sequence[dict[str, Any]] = (), visibility: str = "public"
) -> dict[str, Any]:
    body = {"media_ids": [item["id"] for item in media], "caption": caption, "visibility": visibility}
    response = ana.post("/api/posts", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def ask_for_an_archive(client: TestClient, browser: Browser) -> int:
    asked = browser.post("/settings/archives", headers=BROWSER, follow_redirects=False)
    assert asked.status_code == 303, asked.text
    drain(client)
    page = browser.get("/settings/import-export", headers=BROWSER).text
    assert "Download the archive" in page
    return int(page.split('href="/settings/archives/')[1].split('"')[0])


def test_an_archive_holds_every_post_its_pictures_likes_and_bookmarks(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana posted a picture publicly and a line to her followers only, liked ben's post on another server
    # and bookmarked it (imported from a Mastodon bookmarks CSV, with one line that cannot be found)
    ana = sign_in(client, make_user("ana"))
    avatar = encode(gradient(64, 64), "PNG")
    saved = ana.post(
        "/settings/profile",
        data={"display_name": "Ana", "bio": ""},
        files={"avatar": ("me.png", avatar, "image/png")},
        headers=BROWSER,
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    picture = generate(ana, prompt="a lighthouse in fog")["media"][0]
    public = post(ana, "the last light #fog", media=[picture])
    private = post(ana, "for my followers", visibility="followers")
    ben = peer.add_actor("ben")
    note = remote_note(ben, 7, "<p>a quiet harbour</p>")
    peer.add_object(note)
    act(client, actions.like, "ana", note["id"])
    bookmarks = import_csv(client, "ana", "bookmarks", f"{note['id']}\n{ben.id}/statuses/404\n")
    assert (bookmarks.imported_items, bookmarks.skipped_items) == (1, 1)
    assert rows_of(client, bookmarks.id)[2][0] == "skipped"
    # When she asks for an archive and the worker makes it
    job_id = ask_for_an_archive(client, ana)
    download = ana.get(f"/settings/archives/{job_id}")
    # Then it downloads as a zip, privately
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert "no-store" in download.headers["cache-control"]
    assert download.headers["content-disposition"].startswith('attachment; filename="archive-ana-')
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    names = set(archive.namelist())
    assert {"outbox.json", "likes.json", "bookmarks.json", "actor.json"} <= names
    # with both posts as Create activities, the picture pointing at its original inside the zip
    outbox = json.loads(archive.read("outbox.json"))
    assert outbox["type"] == "OrderedCollection" and outbox["id"] == "outbox.json"
    assert outbox["totalItems"] == len(outbox["orderedItems"]) == 2
    creates = {item["object"]["id"]: item for item in outbox["orderedItems"]}
    assert set(creates) == {public["ap_id"], private["ap_id"]}
    assert all(item["type"] == "Create" for item in creates.values())
    (attachment,) = creates[public["ap_id"]]["object"]["attachment"]
    assert attachment["url"].startswith("media_attachments/files/") and attachment["url"] in names
    stored = archive.read(attachment["url"])
    assert hashlib.sha256(stored).hexdigest() in attachment["url"]
    assert creates[private["ap_id"]]["object"]["to"] == [f"{client.base_url}/users/ana/followers"]
    # and its likes, bookmarks and actor
    assert json.loads(archive.read("likes.json"))["orderedItems"] == [note["id"]]
    assert json.loads(archive.read("bookmarks.json"))["orderedItems"] == [note["id"]]
    actor = json.loads(archive.read("actor.json"))
    assert actor["id"] == f"{client.base_url}/users/ana"
    assert (actor["outbox"], actor["likes"], actor["bookmarks"]) == ("outbox.json", "likes.json", "bookmarks.json")
    assert actor["icon"]["url"].startswith("avatar.") and actor["icon"]["url"] in names
    # outbox.json re-reads as AS2: pyld expands it in both JSON-LD modes losing nothing, as does each document
    for document in (outbox, actor, json.loads(archive.read("likes.json"))):
        for mode in MODES:
            assert problems(document, mode) == []
    expanded = expand(outbox, "json-ld-1.1")
    assert expanded[0]["@type"] == ["https://www.w3.org/ns/activitystreams#OrderedCollection"]
    # and active-boxes reads every activity in it
    with reading_with_active_boxes(client) as parse:
        for item in outbox["orderedItems"]:
            parsed = parse({"@context": outbox["@context"], **item})
            assert parsed.ACTIVITY_TYPE.value == "Create"


def test_only_the_owner_downloads_an_archive(client: TestClient, make_user: Callable[..., Account]) -> None:
    ana = sign_in(client, make_user("ana"))
    post(ana, "mine alone")
    job_id = ask_for_an_archive(client, ana)
    assert ana.get(f"/settings/archives/{job_id}").status_code == 200
    client.cookies.clear()
    assert client.get(f"/settings/archives/{job_id}", headers=BROWSER).status_code == 401
    bob = sign_in(client, make_user("bob"))
    assert bob.get(f"/settings/archives/{job_id}", headers=BROWSER).status_code == 404
    assert bob.get("/settings/archives/999999", headers=BROWSER).status_code == 404


def test_an_archive_is_kept_a_week_then_its_file_goes(client: TestClient, make_user: Callable[..., Account]) -> None:
    ana = sign_in(client, make_user("ana"))
    job_id = ask_for_an_archive(client, ana)
    folder = services_of(client).settings.data_dir / "archives"
    (stored,) = list(folder.iterdir())
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600 and stat.S_IMODE(folder.stat().st_mode) == 0o700
    services = services_of(client)

    async def age_it() -> int:
        async with services.db.transaction() as session:
            await session.execute(
                update(AccountJob).values(finished_at=utcnow() - ARCHIVE_LIFETIME - timedelta(minutes=1))
            )
        return await expire_archives(services)

    assert run_in_app(client, age_it) == 1
    assert not stored.exists()
    assert ana.get(f"/settings/archives/{job_id}", headers=BROWSER).status_code == 404
    assert "no longer kept" in ana.get("/settings/import-export", headers=BROWSER).text

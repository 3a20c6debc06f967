"""Housekeeping sweeps: expired drafts, orphan files and old deletion markers go; nothing alive does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from starlette.testclient import TestClient

from fediverse.housekeeping.sweep import (
    DELETION_MARKER_RETENTION,
    FINISHED_WORK_RETENTION,
    ORPHAN_FILE_GRACE,
    expire_drafts,
    sweep,
)
from fediverse.social import posts
from storage.db import Database
from storage.models import (
    Account,
    DeletedObject,
    Delivery,
    InboxItem,
    Media,
    OutboxActivity,
    RemoteFetch,
    WebSession,
    WorkState,
)
from storage.types import utcnow
from tests.conftest import run_in_app, services_of
from tests.fediverse.housekeeping.helpers import age_draft, age_file, sweep_now
from tests.fediverse.studio.conftest import Browser, create_user, drain, sign_in
from tests.fediverse.studio.test_media_api import path_of, upload
from tests.fediverse.test_imaging import encode, gradient

RETENTION = timedelta(hours=24)  # the default REVERIE_DRAFT_RETENTION_HOURS


def picture(browser: Browser, width: int) -> dict[str, object]:
    response = upload(browser, encode(gradient(width, 40), "PNG"))
    assert response.status_code == 201
    return response.json()  # type: ignore[no-any-return]


def test_the_worker_expires_drafts_past_the_retention_and_keeps_fresh_ones(client: TestClient, ana: Browser) -> None:
    # Given two unpublished pictures, one uploaded 25 hours ago
    old, fresh = picture(ana, 60), picture(ana, 70)
    age_draft(client, old["id"], RETENTION + timedelta(hours=1))
    # When the worker runs (it sweeps when it starts, then every few minutes)
    drain(client)
    # Then the old draft and its files are gone, the fresh one is untouched
    assert ana.get(path_of(old["url"])).status_code == 404
    assert ana.get(path_of(old["thumbnail_url"])).status_code == 404
    assert ana.patch(f"/api/media/{old['id']}", json={"alt_text": "still here?"}).status_code == 404
    assert ana.get(path_of(fresh["url"])).status_code == 200
    assert ana.patch(f"/api/media/{fresh['id']}", json={"alt_text": "kept"}).status_code == 200


def test_the_retention_is_a_setting(client_with: Callable[..., TestClient]) -> None:
    # Given an instance that keeps drafts two hours, and a draft three hours old
    client = client_with(REVERIE_DRAFT_RETENTION_HOURS="2")
    browser = sign_in(client, create_user(client, "cleo"))
    draft = picture(browser, 50)
    age_draft(client, draft["id"], timedelta(hours=3))
    # When housekeeping sweeps, the draft is gone
    assert sweep_now(client).drafts == 1
    assert browser.get(path_of(draft["url"])).status_code == 404


def test_a_published_picture_never_expires(client: TestClient, ana: Browser) -> None:
    # Given a picture published long after it was painted
    draft = picture(ana, 80)
    age_draft(client, draft["id"], RETENTION * 3)
    assert ana.post("/api/posts", json={"media_ids": [draft["id"]]}).status_code == 201
    # When housekeeping sweeps, even much later
    report = sweep_now(client, utcnow() + RETENTION * 10)
    # Then the post's picture is still served
    assert report.drafts == 0
    assert ana.get(path_of(draft["url"])).status_code == 200


def test_publishing_an_expired_draft_after_the_sweep_is_refused_cleanly(client: TestClient, ana: Browser) -> None:
    draft = picture(ana, 90)
    age_draft(client, draft["id"], RETENTION * 2)
    assert sweep_now(client).drafts == 1
    refused = ana.post("/api/posts", json={"media_ids": [draft["id"]], "caption": "too late"})
    assert refused.status_code == 400
    assert "missing" in refused.json()["error"]
    assert ana.get("/users/ana/outbox", headers={"Accept": "application/activity+json"}).json()["totalItems"] == 0


# PostgreSQL only: SQLite runs one writer at a time, so the sequential tests above cover both orders there.
@pytest.mark.parametrize("database_factory", ["postgres"], indirect=True)
def test_a_draft_claimed_by_a_publish_in_progress_survives_a_concurrent_sweep(client: TestClient, ana: Browser) -> None:
    services = services_of(client)
    draft = picture(ana, 100)
    age_draft(client, draft["id"], RETENTION * 2)

    async def race() -> int:
        # Given a publish that has claimed the expired draft and not yet committed
        async with services.db.transaction() as session:
            account = await session.scalar(select(Account).where(Account.username == "ana"))
            assert account is not None
            await posts.publish_post(session, services.urls, account, posts.PostDraft(media_ids=[draft["id"]]))
            # When a sweep reaches the same row, it waits for the publish
            sweeper = asyncio.create_task(expire_drafts(services.db, utcnow()))
            await _until_waiting_on_a_lock(services.db)
        return (await sweeper)[0]

    # Then the publish commits, and the sweep leaves what is no longer a draft
    assert run_in_app(client, race) == 0
    assert ana.get(path_of(draft["url"])).status_code == 200
    assert ana.get("/users/ana/outbox", headers={"Accept": "application/activity+json"}).json()["totalItems"] == 1


async def _until_waiting_on_a_lock(db: Database) -> None:
    """Return once another connection to this database waits for a row lock (PostgreSQL)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with asyncio.timeout(30):
        while True:
            async with db.engine.connect() as connection:
                if await connection.scalar(waiting):
                    return
            await asyncio.sleep(0.01)  # polling for a state, not timing anything


def test_orphan_files_are_swept_once_past_their_grace_period(client: TestClient, ana: Browser) -> None:
    # Given a file no row uses (stored just before a crash), and an old draft's file still in use
    services = services_of(client)
    orphan = run_in_app(client, services.media.put, encode(gradient(30, 30), "PNG"), "image/png")
    draft = picture(ana, 110)
    for key in (orphan, path_of(draft["url"]).removeprefix("/media/")):
        age_file(client, key, ORPHAN_FILE_GRACE - timedelta(minutes=5))
    # When housekeeping sweeps within the grace period, the orphan may still be on its way to a row
    assert sweep_now(client).files == 0
    assert ana.get(f"/media/{orphan}").status_code == 200
    # When it sweeps after the grace period, the orphan goes and the draft's file stays
    assert sweep_now(client, utcnow() + timedelta(minutes=10)).files == 1
    assert ana.get(f"/media/{orphan}").status_code == 404
    assert ana.get(path_of(draft["url"])).status_code == 200


def test_old_deletion_markers_are_pruned(client: TestClient) -> None:
    # Given a Delete that arrived 31 days ago before its Create, and one that arrived today
    services = services_of(client)

    async def remember() -> None:
        async with services.db.transaction() as session:
            for name, age in (("old", DELETION_MARKER_RETENTION + timedelta(days=1)), ("new", timedelta(hours=1))):
                session.add(
                    DeletedObject(
                        ap_id=f"https://remote.example/notes/{name}",
                        actor_ap_id="https://remote.example/users/ben",
                        deleted_at=utcnow() - age,
                    )
                )

    run_in_app(client, remember)
    # When housekeeping sweeps, only the old marker goes
    assert sweep_now(client).deletion_markers == 1
    assert _markers(client) == ["https://remote.example/notes/new"]


def _markers(client: TestClient) -> list[str]:
    async def load() -> list[str]:
        async with services_of(client).db.session() as session:
            return list(await session.scalars(select(DeletedObject.ap_id)))

    return run_in_app(client, load)


def test_sweeps_side_by_side_are_idempotent(client: TestClient, ana: Browser) -> None:
    # Given an expired draft
    services = services_of(client)
    draft = picture(ana, 120)
    age_draft(client, draft["id"], RETENTION * 2)

    async def two_sweeps() -> int:
        reports = await asyncio.gather(sweep(services), sweep(services))
        return sum(report.drafts for report in reports)

    # When two workers sweep at once, the draft is removed once and neither fails
    assert run_in_app(client, two_sweeps) == 1
    # And a sweep with nothing left to do removes nothing
    assert sweep_now(client).total == 0
    assert ana.get(path_of(draft["url"])).status_code == 404

    async def count() -> int:
        async with services.db.session() as session:
            return await session.scalar(select(func.count()).select_from(Media)) or 0

    assert run_in_app(client, count) == 0


def test_finished_inbox_items_and_deliveries_and_expired_sessions_go_after_their_time(
    client: TestClient, ana: Browser
) -> None:
    # Given work finished eight days ago and today, work still waiting for a retry since long ago,
    # and besides ana's live session an expired one
    services = services_of(client)
    long_ago = utcnow() - FINISHED_WORK_RETENTION - timedelta(days=1)
    recently = utcnow() - timedelta(hours=1)
    rows = {
        "old-done": (WorkState.DONE, long_ago),
        "old-failed": (WorkState.FAILED, long_ago),
        "old-gone": (WorkState.GONE, long_ago),
        "new-done": (WorkState.DONE, recently),
        "waiting": (WorkState.QUEUED, long_ago),
    }

    async def seed() -> None:
        async with services.db.transaction() as session:
            activity = OutboxActivity(
                ap_id="https://here.example/activities/1", actor_id=ana.account.actor_id, type="Create", payload={}
            )
            session.add(activity)
            await session.flush()
            for name, (state, due) in rows.items():
                session.add(
                    Delivery(
                        activity_id=activity.id or 0,
                        inbox_url=f"https://{name}.example/inbox",
                        host=f"{name}.example",
                        state=state,
                        next_attempt_at=due,
                    )
                )
                session.add(
                    RemoteFetch(
                        kind="note", target_ap_id=f"https://{name}.example/notes/1", state=state, next_attempt_at=due
                    )
                )
                session.add(
                    InboxItem(
                        activity_ap_id=f"https://{name}.example/activities/1",
                        actor_ap_id=f"https://{name}.example/users/ben",
                        type="Like",
                        payload={},
                        state=state,
                        next_attempt_at=due,
                    )
                )
            session.add(
                WebSession(
                    token_hash="0" * 64,
                    account_id=ana.account.id or 0,
                    csrf_token="x",
                    expires_at=utcnow() - timedelta(minutes=1),
                )
            )

    run_in_app(client, seed)
    # When housekeeping sweeps
    report = sweep_now(client)
    # Then the three long-finished rows of each kind went, and only the expired session
    assert (report.finished_work, report.sessions) == (9, 1)

    async def left() -> tuple[list[str], list[str], list[str], int]:
        async with services.db.session() as session:
            return (
                sorted(await session.scalars(select(Delivery.host))),
                sorted(await session.scalars(select(InboxItem.actor_ap_id))),
                sorted(await session.scalars(select(RemoteFetch.target_ap_id))),
                await session.scalar(select(func.count()).select_from(WebSession)) or 0,
            )

    hosts, senders, fetches, sessions = run_in_app(client, left)
    assert hosts == ["new-done.example", "waiting.example"]
    assert senders == ["https://new-done.example/users/ben", "https://waiting.example/users/ben"]
    assert fetches == ["https://new-done.example/notes/1", "https://waiting.example/notes/1"]
    assert sessions == 1
    assert ana.get("/settings").status_code == 200  # still signed in

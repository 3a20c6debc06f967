"""The inbox worker applies a claimed batch together: each sender's activities in order, a bad one failing
alone with its reason, and a deleted account purged in bounded steps that carry on after an interruption."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from fediverse.social import removals
from storage.models import Account, Actor, InboxItem, Like, Notification, NotificationType, Post, PostTag, WorkState
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.federation.conftest import (
    create_of,
    deliver,
    drain,
    follow_remote,
    publish,
    query,
    remote_note,
    send_activity,
)
from tests.peers import FakePeer, PeerActor

ANA = f"{TEST_BASE_URL}/users/ana"


class WorkerKilled(Exception):
    """Stands for the worker process dying where it is raised."""


def outcomes(client: TestClient) -> dict[str, tuple[str, str | None]]:
    rows = query(client, select(InboxItem.activity_ap_id, InboxItem.state, InboxItem.last_error))
    return {row[0]: (row[1], row[2]) for row in rows}


def stored_posts(client: TestClient) -> dict[str, bool]:
    """ap_id -> whether the post still stands (is not a tombstone)."""
    return {row[0]: row[1] is None for row in query(client, select(Post.ap_id, Post.deleted_at))}


def delete_of(actor: PeerActor, target: str, suffix: str = "") -> dict[str, Any]:
    return {"id": f"{target}#delete{suffix}", "type": "Delete", "actor": actor.id, "object": target}


def test_one_batch_keeps_each_senders_order_and_fails_a_bad_activity_alone(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows ben, and eve (whom she does not follow) mentions her
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    follow_remote(client, peer, "ana", ben)
    first, second = remote_note(ben, 1, "<p>one</p>"), remote_note(ben, 2, "<p>two</p>")
    mention = remote_note(eve, 3, "<p>hi @ana</p>", cc=[ANA], tag=[{"type": "Mention", "href": ANA, "name": "@ana"}])
    forged = {
        "id": f"{ben.id}#updates/1",
        "type": "Update",
        "actor": ben.id,
        "object": {"id": f"{peer.base_url}/users/someone-else", "type": "Person"},
    }
    # When all of these arrive before the worker runs (so one pass applies them together)
    sent = [
        (ben, create_of(ben, first)),
        (eve, create_of(eve, mention)),
        (ben, forged),
        (ben, create_of(ben, second)),
        (ben, delete_of(ben, first["id"])),
    ]
    for sender, activity in sent:
        assert send_activity(client, peer, sender, activity) == 202
    drain(client)
    # Then ben's first note was stored and then deleted (in his order), his second stands, eve's too
    assert stored_posts(client) == {first["id"]: False, second["id"]: True, mention["id"]: True}
    # And the forged Update alone failed, with its reason; everything else is done
    results = outcomes(client)
    assert results[forged["id"]][0] == WorkState.FAILED
    assert "only update itself" in (results[forged["id"]][1] or "")
    others = [activity["id"] for _, activity in sent if activity is not forged]
    assert {results[activity_id][0] for activity_id in others} == {WorkState.DONE}
    # And ana was told about eve's mention
    kinds = query(client, select(Notification.type))
    assert (NotificationType.MENTION,) in kinds


def test_an_item_that_needs_a_fetch_keeps_its_senders_later_items_behind_it(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows ben, whose note must be fetched (the Create names it only by id)
    make_user("ana")
    ben = peer.add_actor("ben")
    follow_remote(client, peer, "ana", ben)
    fetched = remote_note(ben, 7, "<p>by reference</p>")
    peer.add_object(fetched)
    inline = remote_note(ben, 8, "<p>inline</p>")
    # When the Create by reference, then its Delete, then another Create arrive together
    for activity in (create_of(ben, fetched["id"]), delete_of(ben, fetched["id"]), create_of(ben, inline)):
        assert send_activity(client, peer, ben, activity) == 202
    drain(client)
    # Then the fetched note was stored before its Delete applied, and the later note is there too
    assert stored_posts(client) == {fetched["id"]: False, inline["id"]: True}


def _deleted_account_setup(client: TestClient, peer: FakePeer, count: int) -> tuple[PeerActor, list[str]]:
    """ana follows and is followed by ben, who wrote ``count`` stored notes (tagged) and liked ana's post."""
    ben = peer.add_actor("ben")
    follow_remote(client, peer, "ana", ben)
    mine = publish(client, "ana", "hello")
    notes = [remote_note(ben, 100 + n, f"<p>note {n} #tag{n}</p>") for n in range(count)]
    for note in notes:
        note["tag"] = [{"type": "Hashtag", "name": f"#tag{note['id'][-1]}", "href": f"{peer.base_url}/tags/x"}]
        assert send_activity(client, peer, ben, create_of(ben, note)) == 202
    like = {"id": f"{ben.id}#likes/1", "type": "Like", "actor": ben.id, "object": mine.ap_id}
    deliver(client, peer, ben, like)
    assert len(stored_posts(client)) == count + 1
    return ben, [note["id"] for note in notes]


def test_an_account_delete_purges_its_posts_in_steps_and_nothing_it_sends_after_lands(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ben's 7 stored notes, purged 3 at a time
    monkeypatch.setattr(removals, "PURGE_STEP", 3)
    make_user("ana")
    ben, note_ids = _deleted_account_setup(client, peer, 7)
    # When his account Delete arrives, and a Create he sent right after it
    late = remote_note(ben, 999, "<p>after my deletion</p>")
    assert send_activity(client, peer, ben, delete_of(ben, ben.id)) == 202
    assert send_activity(client, peer, ben, create_of(ben, late)) == 202
    drain(client)
    # Then every note of his is a tombstone with no tags left, his like is gone, he is marked gone
    posts = stored_posts(client)
    assert [posts[note_id] for note_id in note_ids] == [False] * 7
    assert late["id"] not in posts
    assert query(client, select(PostTag.tag)) == []
    assert query(client, select(Like.id)) == []
    (gone,) = query(client, select(Actor.gone_at, Actor.public_key_pem).where(Actor.ap_id == ben.id))
    assert gone[0] is not None and gone[1] is None


def test_an_interrupted_purge_carries_on_when_its_delete_is_claimed_again(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ben's 7 stored notes, purged 3 at a time
    monkeypatch.setattr(removals, "PURGE_STEP", 3)
    make_user("ana")
    ben, note_ids = _deleted_account_setup(client, peer, 7)
    # When the worker dies after the first step of the purge (the step's transaction committed)
    real_step = removals.purge_step
    steps = 0

    async def dying_step(*args: Any, **kwargs: Any) -> int | None:
        nonlocal steps
        steps += 1
        if steps == 2:
            raise WorkerKilled
        return await real_step(*args, **kwargs)

    monkeypatch.setattr(removals, "purge_step", dying_step)
    assert send_activity(client, peer, ben, delete_of(ben, ben.id)) == 202
    with pytest.raises(WorkerKilled):
        drain(client)
    # Then he is already marked gone and some of his notes still stand
    assert sum(stored_posts(client)[note_id] for note_id in note_ids) == 4
    assert query(client, select(Actor.gone_at).where(Actor.ap_id == ben.id))[0][0] is not None
    # And when the dead worker's claim has expired and a worker applies the Delete again, the purge finishes
    monkeypatch.setattr(removals, "purge_step", real_step)

    async def expire_claims() -> None:
        async with services_of(client).db.transaction() as session:
            await session.execute(update(InboxItem).values(locked_until=None))

    run_in_app(client, expire_claims)
    drain(client)
    assert [stored_posts(client)[note_id] for note_id in note_ids] == [False] * 7
    assert outcomes(client)[f"{ben.id}#delete"][0] == WorkState.DONE

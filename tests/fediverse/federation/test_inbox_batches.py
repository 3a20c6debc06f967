"""The inbox worker applies a claimed batch together: each sender's activities in order, a bad one failing
alone with its reason, and a deleted account purged in bounded steps that carry on after an interruption."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from fediverse.federation.inbox import inbox_queue, plain_creates
from fediverse.social import actions, removals
from storage.models import (
    Account,
    Actor,
    Announce,
    InboxItem,
    Like,
    Media,
    Mention,
    Notification,
    NotificationType,
    Post,
    PostMedia,
    PostTag,
    RemoteFetch,
    WorkState,
)
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.federation.conftest import (
    act,
    create_of,
    deliver,
    drain,
    follow_remote,
    known_actor,
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


# -- plain Creates, set-based (decision 0050, 2026-12-03 addendum) ------------------------------------

BOB = f"{TEST_BASE_URL}/users/bob"


def mentioning(*targets: str) -> dict[str, Any]:
    return {"cc": list(targets), "tag": [{"type": "Mention", "href": target, "name": "@x"} for target in targets]}


def _batch_of_creates(client: TestClient, peer: FakePeer) -> dict[str, str]:
    """ana and bob; ben (followed by ana), eve and zed (known, unfollowed; ana blocks zed). One drain
    applies, together: notes that are stored or not, with media, tags, mentions, replies and repeats.
    Returns the notes' ids by name."""
    ben, eve, zed = peer.add_actor("ben"), peer.add_actor("eve", key_index=1), peer.add_actor("zed", key_index=2)
    follow_remote(client, peer, "ana", ben)
    for actor in (eve, zed):
        known_actor(client, actor)
    act(client, actions.block, "ana", zed.id)
    # ben deleted a note before its Create reached us
    early = remote_note(ben, 5)
    deliver(client, peer, ben, delete_of(ben, early["id"]))
    missing_parent = f"{peer.base_url}/users/someone/statuses/404"
    image = {"type": "Document", "mediaType": "image/png", "url": f"{peer.base_url}/media/1.png", "name": "a lake"}
    notes = {
        "n1": remote_note(
            ben, 1, "<p>the lake #Lake</p>", attachment=[image], tag=[{"type": "Hashtag", "name": "#Lake"}]
        ),
        "e1": remote_note(eve, 11, "<p>hi @ana</p>", **mentioning(ANA)),
        "e2": remote_note(eve, 12, "<p>@bob look</p>", inReplyTo=f"{ben.id}/statuses/3", **mentioning(BOB)),
        "n3": remote_note(ben, 3, "<p>the parent, after its reply</p>"),
        "n4": remote_note(ben, 4, "<p>answering someone</p>", inReplyTo=missing_parent),
        "e3": remote_note(eve, 13, "<p>nobody here cares</p>"),
        "z1": remote_note(zed, 21, "<p>hello @ana</p>", **mentioning(ANA)),
        "e4": remote_note(eve, 14, "<p>to both</p>", cc=[ANA, BOB], tag=[{"type": "Mention", "href": ANA}]),
        "n5": early,
    }
    senders = {"n": ben, "e": eve, "z": zed}
    sent = [(senders[name[0]], create_of(senders[name[0]], note)) for name, note in notes.items()]
    sent.insert(2, (ben, create_of(ben, notes["n1"], suffix="-again")))  # a repeat, under another activity id
    for sender, activity in sent:
        assert send_activity(client, peer, sender, activity) == 202
    drain(client)
    ids = {name: note["id"] for name, note in notes.items()}
    ids["missing_parent"] = missing_parent
    return ids


def _check_batch_of_creates(client: TestClient, ids: dict[str, str], *, set_based: bool = True) -> None:
    stored = {
        row[0]: row for row in query(client, select(Post.ap_id, Post.id, Post.in_reply_to_id, Post.replies_count))
    }
    names = {ap_id: name for name, ap_id in ids.items()}
    assert {names.get(ap_id) for ap_id in stored} >= {"n1", "e1", "e2", "n3", "n4", "z1", "e4"}
    assert {ids["e3"], ids["n5"]}.isdisjoint(stored)
    assert stored[ids["e2"]][2] == stored[ids["n3"]][1]  # linked to its parent, stored after it
    assert stored[ids["n3"]][3] == 1  # and counted
    assert stored[ids["n4"]][2] is None
    # The parent we lack is fetched (one by one, e2 asked for n3 too, which its batch brought after it)
    fetches = {target for (target,) in query(client, select(RemoteFetch.target_ap_id))}
    assert fetches == ({ids["missing_parent"]} if set_based else {ids["missing_parent"], ids["n3"]})
    by_id = {row[1]: names.get(row[0]) for row in stored.values()}
    assert [(by_id[post], tag) for post, tag in query(client, select(PostTag.post_id, PostTag.tag))] == [("n1", "lake")]
    media = query(client, select(PostMedia.post_id, Media.remote_url, Media.alt_text, Media.state).join(Media))
    assert [(by_id[row[0]], *row[1:]) for row in media] == [
        ("n1", ids["n1"].split("/users")[0] + "/media/1.png", "a lake", "remote")
    ]
    actors = dict(query(client, select(Actor.id, Actor.ap_id)))
    mentions = {
        (by_id[post], actors[actor]) for post, actor in query(client, select(Mention.post_id, Mention.actor_id))
    }
    assert mentions == {("e1", ANA), ("e2", BOB), ("z1", ANA), ("e4", ANA), ("e4", BOB)}
    accounts = dict(query(client, select(Account.id, Account.username)))
    notified = {
        (accounts[account], kind, by_id[post])
        for account, kind, post in query(
            client, select(Notification.account_id, Notification.type, Notification.post_id)
        )
        if post is not None
    }
    # zed is blocked by ana: his mention is stored, and says nothing to her
    assert notified == {
        ("ana", "mention", "e1"),
        ("bob", "mention", "e2"),
        ("ana", "mention", "e4"),
        ("bob", "mention", "e4"),
    }
    states = {state for (state,) in query(client, select(InboxItem.state))}
    assert states == {WorkState.DONE}
    assert query(client, select(Post.id).where(Post.ap_id == ids["n1"])) == [(stored[ids["n1"]][1],)]


@pytest.mark.parametrize("path", ["plain", "handlers"])
def test_a_batch_of_creates_is_applied_the_same_set_based_or_one_by_one(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account], monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    # Given (whichever way the worker applies plain Creates) the batch of _batch_of_creates
    make_user("ana")
    make_user("bob")
    stored_set_based: list[int] = []
    real_store = plain_creates._store

    def counting_store(session: Any, creates: Any) -> None:
        stored_set_based.append(len(creates))
        real_store(session, creates)

    monkeypatch.setattr(plain_creates, "_store", counting_store)
    if path == "handlers":
        monkeypatch.setattr(inbox_queue, "split_plain", lambda items, senders, urls: ([], list(items)))
    ids = _batch_of_creates(client, peer)
    # Then the outcome is the same, item for item
    _check_batch_of_creates(client, ids, set_based=path == "plain")
    # And the plain Creates went set-based, in one go, when allowed to (n5 was deleted, e3 is unwanted,
    # the repeat adds nothing: 7 notes stored)
    assert stored_set_based == ([7] if path == "plain" else [])


def test_when_a_set_based_chunk_fails_its_creates_go_through_the_handlers_in_order(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ana follows ben, and set-based storing fails after writing part of a chunk
    make_user("ana")
    ben = peer.add_actor("ben")
    follow_remote(client, peer, "ana", ben)
    real_store = plain_creates._store

    def failing_store(session: Any, creates: Any) -> None:
        real_store(session, creates)
        raise RuntimeError("a row the chunk could not take")

    monkeypatch.setattr(plain_creates, "_store", failing_store)
    first, second = remote_note(ben, 1, "<p>one</p>"), remote_note(ben, 2, "<p>two</p>")
    # When ben's two Creates and the Delete of the first arrive together
    for activity in (create_of(ben, first), create_of(ben, second), delete_of(ben, first["id"])):
        assert send_activity(client, peer, ben, activity) == 202
    drain(client)
    # Then nothing of the failed chunk stayed, each Create was applied by its handler, in order, then the Delete
    assert stored_posts(client) == {first["id"]: False, second["id"]: True}
    assert {state for _, (state, _) in outcomes(client).items()} == {WorkState.DONE}


def test_plain_creates_hand_the_writer_back_between_chunks_and_carry_on(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ana follows ben, and the worker may hold the writer for one chunk of two Creates at a time
    make_user("ana")
    ben = peer.add_actor("ben")
    follow_remote(client, peer, "ana", ben)
    monkeypatch.setattr(plain_creates, "CHUNK", 2)
    monkeypatch.setattr(inbox_queue, "MAX_HOLD", 0.0)
    units: list[int] = []
    real_apply = plain_creates.apply_plain

    def counting_apply(session: Any, creates: Any, **options: Any) -> Any:
        units.append(len(creates))
        return real_apply(session, creates, **options)

    monkeypatch.setattr(inbox_queue, "apply_plain", counting_apply)
    notes = [remote_note(ben, n, f"<p>note {n}</p>") for n in range(5)]
    # When his five Creates and then the Delete of the first arrive together
    for activity in [*(create_of(ben, note) for note in notes), delete_of(ben, notes[0]["id"])]:
        assert send_activity(client, peer, ben, activity) == 202
    drain(client)
    # Then the Creates were applied over three units of work (2 + 2 + 1), all before the Delete
    assert units == [5, 3, 1]
    assert stored_posts(client) == {note["id"]: index > 0 for index, note in enumerate(notes)}
    assert {state for state, _ in outcomes(client).values()} == {WorkState.DONE}


def like_of(actor: PeerActor, post: str, number: int, kind: str = "Like") -> dict[str, Any]:
    return {"id": f"{actor.id}#{kind.lower()}s/{number}", "type": kind, "actor": actor.id, "object": post}


def undo_of(actor: PeerActor, undone: dict[str, Any], *, undone_id: str | None = None) -> dict[str, Any]:
    """An Undo embedding what it undoes, as Mastodon sends one; ``undone_id`` names it by another id."""
    embedded = {**undone, "id": undone_id or undone["id"]}
    return {"id": f"{embedded['id']}#undo", "type": "Undo", "actor": actor.id, "object": embedded}


@pytest.mark.parametrize("path", ["plain", "handlers"])
def test_a_batch_of_likes_boosts_and_undos_is_applied_the_same_set_based_or_one_by_one(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account], monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    # Given ana's public and followers-only posts and bob's public post; ben, eve and zed (whom ana blocks);
    # eve liked bob's post and ben boosted it before this batch
    make_user("ana")
    make_user("bob")
    ben, eve, zed = peer.add_actor("ben"), peer.add_actor("eve", key_index=1), peer.add_actor("zed", key_index=2)
    for actor in (ben, eve, zed):
        known_actor(client, actor)
    act(client, actions.block, "ana", zed.id)
    public, private = publish(client, "ana").ap_id, publish(client, "ana", visibility="followers").ap_id
    bobs = publish(client, "bob").ap_id
    earlier_like, earlier_boost = like_of(eve, bobs, 1), like_of(ben, bobs, 2, "Announce")
    deliver(client, peer, eve, earlier_like)
    deliver(client, peer, ben, earlier_boost)
    interactions: list[int] = []
    real_apply = plain_creates.apply_interactions

    def counting_apply(session: Any, chunk: Any) -> None:
        interactions.append(len(chunk))
        real_apply(session, chunk)

    monkeypatch.setattr(plain_creates, "apply_interactions", counting_apply)
    if path == "handlers":
        monkeypatch.setattr(inbox_queue, "split_plain", lambda items, senders, urls: ([], list(items)))
    eves_like = like_of(eve, public, 3)
    batch = [
        (ben, like_of(ben, public, 4)),
        (ben, like_of(ben, public, 5)),  # again, under another id: nothing more
        (eve, eves_like),
        (eve, undo_of(eve, eves_like)),  # liked and unliked in the same batch
        (zed, like_of(zed, public, 6)),  # blocked: refused
        (ben, like_of(ben, public, 7, "Announce")),
        (eve, like_of(eve, private, 8)),  # a post eve may not see
        (eve, like_of(eve, private, 9, "Announce")),  # and may not boost
        (ben, like_of(ben, bobs, 10)),
        (eve, undo_of(eve, earlier_like, undone_id=f"{eve.id}#likes/other")),  # matched by the post it liked
        (ben, undo_of(ben, earlier_boost)),  # matched by its id
    ]
    # When they arrive together
    for sender, activity in batch:
        assert send_activity(client, peer, sender, activity) == 202
    drain(client)
    # Then the outcome is the same, item for item
    names = {ben.id: "ben", eve.id: "eve", zed.id: "zed", ANA: "ana", BOB: "bob"}
    posts = {public: "public", private: "private", bobs: "bobs"}
    actors = {row[0]: names.get(row[1]) for row in query(client, select(Actor.id, Actor.ap_id))}
    by_post = {
        row[0]: (posts[row[1]], row[2], row[3])
        for row in query(client, select(Post.id, Post.ap_id, Post.likes_count, Post.boosts_count))
    }
    likes = {(actors[a], by_post[p][0]) for a, p in query(client, select(Like.actor_id, Like.post_id))}
    boosts = {(actors[a], by_post[p][0]) for a, p in query(client, select(Announce.actor_id, Announce.post_id))}
    assert likes == {("ben", "public"), ("ben", "bobs")}
    assert boosts == {("ben", "public")}
    assert sorted(by_post.values()) == [("bobs", 1, 0), ("private", 0, 0), ("public", 1, 1)]
    accounts = dict(query(client, select(Account.id, Account.username)))
    notified = {
        (accounts[account], kind, actors[actor], by_post[post][0])
        for account, kind, actor, post in query(
            client, select(Notification.account_id, Notification.type, Notification.actor_id, Notification.post_id)
        )
    }
    assert notified == {
        ("ana", NotificationType.LIKE, "ben", "public"),
        ("ana", NotificationType.ANNOUNCE, "ben", "public"),
        ("bob", NotificationType.LIKE, "ben", "bobs"),
    }
    assert {state for state, _ in outcomes(client).values()} == {WorkState.DONE}
    # And the plain path took every one of them set-based, in one go
    assert interactions == ([len(batch)] if path == "plain" else [])

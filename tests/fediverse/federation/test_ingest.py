"""How incoming activities are believed, matched and applied: origin, relevance, order, replays, undos,
and hostile input. Every activity goes through the real inbox, signed by a fake peer's actor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from fediverse.social import actions
from storage.models import (
    Account,
    Actor,
    Announce,
    Block,
    DeletedObject,
    Follow,
    FollowState,
    InboxItem,
    Like,
    Media,
    Notification,
    NotificationType,
    Post,
    PostMedia,
    Visibility,
    WorkState,
)
from tests.conftest import TEST_BASE_URL
from tests.fediverse.federation.conftest import (
    act,
    create_of,
    deliver,
    drain,
    follow_remote,
    known_actor,
    publish,
    query,
    remote_follows,
    remote_note,
    send_activity,
)
from tests.peers import FakePeer

ANA = f"{TEST_BASE_URL}/users/ana"


def posts(client: TestClient) -> dict[str, str]:
    """ap_id -> content of every stored post."""
    return {row[0]: row[1] for row in query(client, select(Post.ap_id, Post.content_html))}


def inbox_outcomes(client: TestClient) -> list[tuple[str, str, str | None]]:
    return [
        (row[0], row[1], row[2])
        for row in query(client, select(InboxItem.type, InboxItem.state, InboxItem.last_error).order_by(InboxItem.id))
    ]


# -- origin ------------------------------------------------------------------------------------


def test_a_note_the_origin_does_not_confirm_is_not_stored(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # (A Create of another server's note, or of another author's, is refused outright:
    # test_audit_embedded_objects.py.)
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = other_peer.add_actor("eve", key_index=1)
    follow_remote(client, peer, "ana", ben)
    # When ben boosts a note of eve's, embedded, that her server does not have
    boost = {"id": f"{ben.id}/statuses/1/activity", "type": "Announce", "actor": ben.id, "object": remote_note(eve, 2)}
    deliver(client, peer, ben, boost)
    # Then nothing is stored, and the item fails at once
    assert posts(client) == {}
    kind, state, error = inbox_outcomes(client)[-1]
    assert (kind, state) == ("Announce", WorkState.FAILED)  # a 404 from the origin is final, not retried
    assert error is not None and "404" in error


def test_updates_only_change_the_senders_own_note_and_profile(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows ben and eve, and eve's note is stored
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    follow_remote(client, peer, "ana", ben)
    follow_remote(client, peer, "ana", eve)
    eves = remote_note(eve, 4, "<p>original</p>")
    peer.add_object(eves)
    deliver(client, peer, eve, create_of(eve, eves))
    # When ben sends an Update of eve's note, it is ignored
    edited = {**eves, "content": "<p>defaced</p>", "updated": "2030-01-01T00:00:00Z"}
    deliver(client, peer, ben, {"id": f"{ben.id}#updates/1", "type": "Update", "actor": ben.id, "object": edited})
    assert posts(client)[eves["id"]] == "<p>original</p>"
    # When ben sends an Update of eve's profile, it is refused
    profile = {**eve.document(), "name": "Hacked"}
    deliver(client, peer, ben, {"id": f"{ben.id}#updates/2", "type": "Update", "actor": ben.id, "object": profile})
    assert query(client, select(Actor.display_name).where(Actor.ap_id == eve.id)) == [("Eve",)]
    assert inbox_outcomes(client)[-1][1] == WorkState.FAILED
    # When eve edits her own note, the edit is applied
    own = {**eves, "content": "<p>edited</p>", "updated": "2030-01-01T00:00:00Z"}
    peer.add_object(own)
    deliver(client, peer, eve, {"id": f"{eve.id}#updates/3", "type": "Update", "actor": eve.id, "object": own})
    assert posts(client)[eves["id"]] == "<p>edited</p>"


def test_a_delete_of_someone_elses_note_is_ignored(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    follow_remote(client, peer, "ana", eve)
    # Given eve's stored note
    eves = remote_note(eve, 5)
    deliver(client, peer, eve, create_of(eve, eves))
    # When ben deletes it, it stays
    deliver(client, peer, ben, {"id": f"{ben.id}#delete/1", "type": "Delete", "actor": ben.id, "object": eves["id"]})
    assert query(client, select(Post.deleted_at)) == [(None,)]


# -- relevance ---------------------------------------------------------------------------------


def test_a_note_from_a_stranger_to_nobody_here_is_dropped(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    # When a stranger nobody here follows posts to nobody here, nothing is kept
    stranger = peer.add_actor("stranger")
    deliver(client, peer, stranger, create_of(stranger, remote_note(stranger, 6, "<p>buy now</p>")))
    assert posts(client) == {}


def test_a_strangers_reply_to_a_local_post_is_kept_and_notifies(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    stranger = peer.add_actor("stranger")
    # Given ana's post and a stranger replying to it
    mine = publish(client, "ana", "thoughts?")
    reply = remote_note(stranger, 7, "<p>nice</p>", inReplyTo=mine.ap_id)
    deliver(client, peer, stranger, create_of(stranger, reply))
    # Then the reply is kept, threaded, and ana is told
    (stored,) = query(client, select(Post.id, Post.in_reply_to_id).where(Post.ap_id == reply["id"]))
    assert stored[1] == mine.id
    assert query(client, select(Notification.type, Notification.post_id)) == [(NotificationType.REPLY, stored[0])]


# -- order and replays -------------------------------------------------------------------------


def test_a_delete_that_arrives_before_its_create_wins(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    ben = peer.add_actor("ben")
    follow_remote(client, peer, "ana", ben)
    # When ben's Delete of a note arrives before its Create
    early = remote_note(ben, 8, "<p>regretted</p>")
    deliver(
        client, peer, ben, {"id": f"{early['id']}#delete", "type": "Delete", "actor": ben.id, "object": early["id"]}
    )
    assert query(client, select(DeletedObject.ap_id)) == [(early["id"],)]
    # When its Create follows
    deliver(client, peer, ben, create_of(ben, early))
    # Then the note is never stored
    assert posts(client) == {}


def test_replays_change_nothing(client: TestClient, peer: FakePeer, make_user: Callable[..., Account]) -> None:
    # Given ana follows ben
    make_user("ana")
    ben = peer.add_actor("ben")
    follow_remote(client, peer, "ana", ben)
    mine = publish(client, "ana", "like me once")
    first = remote_note(ben, 9)
    # When the same Create arrives twice (once under another activity id), and a like twice
    deliver(client, peer, ben, create_of(ben, first))
    deliver(client, peer, ben, create_of(ben, first))
    deliver(client, peer, ben, create_of(ben, first, suffix="#again"))
    like = {"id": f"{ben.id}#likes/1", "type": "Like", "actor": ben.id, "object": mine.ap_id}
    deliver(client, peer, ben, like)
    deliver(client, peer, ben, like)
    deliver(client, peer, ben, {**like, "id": f"{ben.id}#likes/2"})
    # Then there is one post, one like and one notification
    assert set(posts(client)) == {mine.ap_id, first["id"]}
    assert len(query(client, select(Like.id))) == 1
    assert len(query(client, select(Notification.id))) == 1
    assert len(query(client, select(InboxItem.id))) == 5  # the verbatim replays were not even stored


# -- follows -----------------------------------------------------------------------------------


def test_accept_matches_our_follow_by_id(client: TestClient, peer: FakePeer, make_user: Callable[..., Account]) -> None:
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    act(client, actions.follow, "ana", ben.id)
    drain(client)
    (follow,) = peer.activities("Follow")
    # When someone else accepts ana's follow of ben, nothing changes
    deliver(client, peer, eve, {"id": f"{eve.id}#accepts/1", "type": "Accept", "actor": eve.id, "object": follow["id"]})
    assert query(client, select(Follow.state)) == [(FollowState.PENDING,)]
    # When ben accepts it by its id alone (no embedded Follow), it is accepted
    deliver(client, peer, ben, {"id": f"{ben.id}#accepts/1", "type": "Accept", "actor": ben.id, "object": follow["id"]})
    assert query(client, select(Follow.state)) == [(FollowState.ACCEPTED,)]


def test_reject_by_id_ends_a_pending_follow(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    ben = peer.add_actor("ben")
    act(client, actions.follow, "ana", ben.id)
    drain(client)
    # When ben rejects ana's follow by its id alone, it ends
    (follow,) = peer.activities("Follow")
    deliver(client, peer, ben, {"id": f"{ben.id}#rejects/1", "type": "Reject", "actor": ben.id, "object": follow["id"]})
    assert query(client, select(Follow.id)) == []


def test_a_blocked_remote_actor_is_rejected_when_it_follows(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ben blocked ana
    make_user("ana")
    ben = peer.add_actor("ben")
    deliver(client, peer, ben, {"id": f"{ben.id}#blocks/1", "type": "Block", "actor": ben.id, "object": ANA})
    # When ben then asks to follow her, he gets a Reject and no follow is stored
    remote_follows(client, peer, ben, "ana")
    assert [activity["type"] for activity in peer.activities()] == ["Reject"]
    assert query(client, select(Follow.id)) == []


# -- undo --------------------------------------------------------------------------------------


def test_undo_of_each_kind(client: TestClient, peer: FakePeer, make_user: Callable[..., Account]) -> None:
    # Given ben follows ana, liked and boosted her post, and blocked her; ana follows ben
    make_user("ana")
    ben = peer.add_actor("ben")
    mine = publish(client, "ana", "undo me")
    follow = remote_follows(client, peer, ben, "ana")
    follow_remote(client, peer, "ana", ben)
    like = {"id": f"{ben.id}#likes/1", "type": "Like", "actor": ben.id, "object": mine.ap_id}
    boost = {"id": f"{ben.id}/statuses/1/activity", "type": "Announce", "actor": ben.id, "object": mine.ap_id}
    for activity in (like, boost):
        deliver(client, peer, ben, activity)
    assert len(query(client, select(Notification.id))) == 3  # follow, like, boost

    def undo(number: int, obj: dict[str, Any] | str) -> None:
        deliver(client, peer, ben, {"id": f"{ben.id}#undo/{number}", "type": "Undo", "actor": ben.id, "object": obj})

    # When he undoes the like naming an id we never saw (matched by its target, as Mastodon does)
    undo(1, {**like, "id": f"{ben.id}#likes/other"})
    assert query(client, select(Like.id)) == []
    # And the boost by its id alone
    undo(2, boost["id"])
    assert query(client, select(Announce.id)) == []
    # And his follow of ana
    undo(3, follow)
    assert (
        query(
            client, select(Follow.follower_id).join(Actor, Actor.id == Follow.follower_id).where(Actor.ap_id == ben.id)
        )
        == []
    )
    assert query(client, select(Notification.id)) == []
    # And he revokes his Accept of ana's follow: ana no longer follows him
    (ana_follow,) = peer.activities("Follow")
    accepted = {"id": f"{ben.id}#accepts/x", "type": "Accept", "actor": ben.id, "object": ana_follow}
    undo(4, accepted)
    assert query(client, select(Follow.id)) == []
    # And a block is lifted by its Undo
    block = {"id": f"{ben.id}#blocks/1", "type": "Block", "actor": ben.id, "object": ANA}
    deliver(client, peer, ben, block)
    undo(5, block)
    assert query(client, select(Block.id)) == []


def test_undo_of_someone_elses_activity_is_refused(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    ben = peer.add_actor("ben")
    eve = peer.add_actor("eve", key_index=1)
    # Given ben liked ana's post
    mine = publish(client, "ana", "liked by ben")
    like = {"id": f"{ben.id}#likes/1", "type": "Like", "actor": ben.id, "object": mine.ap_id}
    deliver(client, peer, ben, like)
    # When eve tries to undo it (embedded or by id), it stays
    deliver(client, peer, eve, {"id": f"{eve.id}#undo/1", "type": "Undo", "actor": eve.id, "object": like})
    deliver(client, peer, eve, {"id": f"{eve.id}#undo/2", "type": "Undo", "actor": eve.id, "object": like["id"]})
    assert len(query(client, select(Like.id))) == 1


# -- what is not for us ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["EmojiReact", "Read"]
)  # Move (test_moves.py), QuoteRequest (test_quotes_out.py), Add and Remove (test_remote_pins.py) are handled
def test_unknown_types_get_202_and_are_not_stored(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account], kind: str
) -> None:
    make_user("ana")
    ben = peer.add_actor("ben")
    # When a signed activity of a type we do not handle arrives, it is accepted and dropped
    activity = {"id": f"{ben.id}#{kind}/1", "type": kind, "actor": ben.id, "object": ANA}
    assert send_activity(client, peer, ben, activity) == 202
    assert query(client, select(InboxItem.id)) == []


def test_hostile_html_is_never_stored(client: TestClient, peer: FakePeer, make_user: Callable[..., Account]) -> None:
    # Given ana follows a hostile peer
    make_user("ana")
    ben = peer.add_actor(
        "ben", name="<script>alert('name')</script>Ben", summary='<p onclick="x()">bio<script>1</script></p>'
    )
    follow_remote(client, peer, "ana", ben)
    hostile = remote_note(
        ben,
        10,
        '<p onmouseover="steal()">hi<script>alert(1)</script><img src=x onerror="alert(2)">'
        '<a href="javascript:alert(3)">click</a><a href="https://ok.example" onclick="x()">ok</a>'
        '<iframe src="https://evil.example"></iframe><style>body{}</style></p>',
        summary="<b onmouseover=x()>cw</b><script>alert(4)</script>",
        attachment=[
            {"type": "Image", "mediaType": "image/png", "url": "javascript:alert(5)", "name": "bad url"},
            {
                "type": "Image",
                "mediaType": "image/png",
                "url": "https://ok.example/a.png",
                "name": '<img src=x onerror="alert(6)">alt',
            },
        ],
    )
    # When his note and a profile update arrive
    deliver(client, peer, ben, create_of(ben, hostile))
    deliver(
        client, peer, ben, {"id": f"{ben.id}#updates/1", "type": "Update", "actor": ben.id, "object": ben.document()}
    )
    # Then no script, handler, javascript: link or frame is stored anywhere
    (post,) = query(client, select(Post.content_html, Post.summary).where(Post.ap_id == hostile["id"]))
    (actor,) = query(client, select(Actor.display_name, Actor.summary_html).where(Actor.ap_id == ben.id))
    alts = [row[0] for row in query(client, select(Media.alt_text, Media.remote_url).join(PostMedia))]
    urls = [row[0] for row in query(client, select(Media.remote_url))]
    stored = " ".join([*post, actor[1], *alts, *urls])
    for needle in (
        "<script",
        "onerror",
        "onclick",
        "onmouseover",
        "javascript:",
        "<iframe",
        "<img",
        "<style",
        "alert(",
    ):
        assert needle not in stored.lower(), needle
    assert "hi" in post[0] and "https://ok.example" in post[0]
    assert urls == ["https://ok.example/a.png"]  # the attachment with a javascript: URL was skipped, the post kept
    # A display name is text, escaped when shown: it keeps its characters but is never markup to us
    assert actor[0] == "<script>alert('name')</script>Ben"
    assert known_actor(client, ben).display_name == actor[0]


def test_a_boost_of_a_followers_only_post_is_ignored(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    ben = peer.add_actor("ben")
    remote_follows(client, peer, ben, "ana")
    # Given ana's followers-only and public posts, both boosted by ben
    private = publish(client, "ana", "between us", visibility=Visibility.FOLLOWERS)
    public = publish(client, "ana", "for everyone")
    for number, target in enumerate((private, public)):
        boost = {
            "id": f"{ben.id}/statuses/{number}/activity",
            "type": "Announce",
            "actor": ben.id,
            "object": target.ap_id,
        }
        deliver(client, peer, ben, boost)
    # Then only the public one counts
    assert query(client, select(Announce.post_id)) == [(public.id,)]

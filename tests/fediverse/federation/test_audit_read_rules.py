"""Audit findings M1 and W6 over federation: what a remote actor sends about a post it may not see is
refused, and a remote reply notifies a local author only if that author may read it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from storage.models import Account, Announce, Like, Notification, NotificationType, Post, Visibility
from tests.conftest import TEST_BASE_URL
from tests.fediverse.federation.conftest import (
    AS2,
    create_of,
    deliver,
    follow_remote,
    known_actor,
    publish,
    query,
    remote_follows,
    remote_note,
)
from tests.peers import FakePeer, PeerActor

ANA = f"{TEST_BASE_URL}/users/ana"


@pytest.fixture
def ben(client: TestClient, peer: FakePeer, make_user: Callable[..., Account]) -> PeerActor:
    """ben, on a Mastodon-like peer; ana is a local account he does not follow."""
    make_user("ana")
    peer.trust(client.get("/users/ana", headers=AS2).json())
    return peer.add_actor("ben")


def like(actor: PeerActor, number: int, post: Post) -> dict[str, Any]:
    return {"id": f"{actor.id}#likes/{number}", "type": "Like", "actor": actor.id, "object": post.ap_id}


def notifications(client: TestClient) -> list[tuple[str, int | None]]:
    return [(row[0], row[1]) for row in query(client, select(Notification.type, Notification.post_id))]


def followers_only_reply(author: PeerActor, number: int, parent: Post, content: str, **fields: Any) -> dict[str, Any]:
    """A followers-only reply as Mastodon addresses one: to the author's followers, cc whoever it mentions."""
    return remote_note(
        author, number, f"<p>{content}</p>", inReplyTo=parent.ap_id, to=[author.id + "/followers"], **fields
    )


def test_w6_b_a_stranger_cannot_like_or_boost_a_post_it_may_not_see(
    client: TestClient, peer: FakePeer, ben: PeerActor
) -> None:
    # Given ana's direct post (to nobody) and her followers-only post, and ben, who does not follow her
    direct = publish(client, "ana", "a note to myself", visibility=Visibility.DIRECT)
    private = publish(client, "ana", "for my followers", visibility=Visibility.FOLLOWERS)
    # When ben likes both and boosts the followers-only one
    deliver(client, peer, ben, like(ben, 1, direct))
    deliver(client, peer, ben, like(ben, 2, private))
    boost = {"id": f"{ben.id}/statuses/3/activity", "type": "Announce", "actor": ben.id, "object": private.ap_id}
    deliver(client, peer, ben, boost)
    # Then nothing is kept and ana is not told
    assert query(client, select(Like.id)) == []
    assert query(client, select(Announce.id)) == []
    assert notifications(client) == []
    # When he follows her, the followers-only post is his to like; the direct one still is not
    remote_follows(client, peer, ben, "ana")
    deliver(client, peer, ben, like(ben, 4, private))
    deliver(client, peer, ben, like(ben, 5, direct))
    assert [row[0] for row in query(client, select(Like.post_id))] == [private.id]
    assert (NotificationType.LIKE, private.id) in notifications(client)


def test_w6_b_a_stranger_cannot_reply_to_a_post_it_may_not_see(
    client: TestClient, peer: FakePeer, ben: PeerActor
) -> None:
    # Given ana's followers-only post, and a direct one that mentions ben
    private = publish(client, "ana", "for my followers", visibility=Visibility.FOLLOWERS)
    to_ben = publish(client, "ana", "just for you", visibility=Visibility.DIRECT, mentions=[known_actor(client, ben)])
    # When ben, who does not follow her, answers the followers-only one (naming her, so it concerns her)
    sneaky = remote_note(ben, 1, "<p>saw this anyway</p>", inReplyTo=private.ap_id, cc=[ANA])
    deliver(client, peer, ben, create_of(ben, sneaky))
    # Then the reply is not kept and ana is not told
    assert query(client, select(Post.id).where(Post.ap_id == sneaky["id"])) == []
    assert notifications(client) == []
    # And his answer to the direct post he was sent is kept, and she is told
    answer = remote_note(ben, 2, "<p>thank you</p>", inReplyTo=to_ben.ap_id, to=[ANA], cc=[])
    deliver(client, peer, ben, create_of(ben, answer))
    ((stored,),) = query(client, select(Post.id).where(Post.ap_id == answer["id"]))
    assert notifications(client) == [(NotificationType.MENTION, stored)]


def test_m1_a_remote_followers_only_reply_notifies_the_local_author_only_if_they_may_read_it(
    client: TestClient, peer: FakePeer, ben: PeerActor
) -> None:
    # Given ana's public post
    mine = publish(client, "ana", "an open field")
    # When ben answers it for his followers only, without naming her (she does not follow him)
    unseen = followers_only_reply(ben, 1, mine, "talking about ana behind her back")
    deliver(client, peer, ben, create_of(ben, unseen))
    # Then the reply is kept for his followers here, but ana is not told of a post she may not open
    ((unseen_id, visibility),) = query(client, select(Post.id, Post.visibility).where(Post.ap_id == unseen["id"]))
    assert visibility == Visibility.FOLLOWERS
    assert notifications(client) == []
    # When he answers again naming her, she may read it and is told
    mention = {"type": "Mention", "href": ANA, "name": f"@ana@{TEST_BASE_URL.split('//')[1]}"}
    named = followers_only_reply(ben, 2, mine, "@ana look", cc=[ANA], tag=[mention])
    deliver(client, peer, ben, create_of(ben, named))
    ((named_id,),) = query(client, select(Post.id).where(Post.ap_id == named["id"]))
    assert notifications(client) == [(NotificationType.MENTION, named_id)]
    # When she follows him, his next followers-only reply reaches her as a reply
    follow_remote(client, peer, "ana", ben)
    followed = followers_only_reply(ben, 3, mine, "now you see it")
    deliver(client, peer, ben, create_of(ben, followed))
    ((followed_id,),) = query(client, select(Post.id).where(Post.ap_id == followed["id"]))
    assert (NotificationType.REPLY, followed_id) in notifications(client)
    assert unseen_id not in {post_id for _, post_id in notifications(client)}

"""An account moves between two Reverie instances (real ``reverie serve`` processes on 127.0.0.1), with a
follower on a third server (a Mastodon-shaped fake peer) that follows the new account afterwards
(FEP-7628, decision 0061).

ana on A has two followers: ben on B and cat on C. bob on B lists ana as an alias; ana moves to bob from
her terminal. C receives A's signed ``Move``, checks it as Mastodon does (bob lists ana in
``alsoKnownAs``, ana says ``movedTo`` bob) and re-sends cat's follow to bob, which B accepts. B applies
the same ``Move`` itself: ben now follows bob, and is told.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from storage.models import Actor, Follow, FollowState, Notification
from tests.e2e.test_two_instances import Instance, eventually, running_instance
from tests.peers import FakePeer, PeerActor, running_peer
from tests.processes import run_reverie

pytestmark = pytest.mark.slow

AS2 = {"Accept": "application/activity+json"}


@pytest.fixture
def servers(tmp_path: Path, database_factory: Callable[[], str]) -> Iterator[tuple[Instance, Instance, FakePeer]]:
    """A and B (each its own database), and C.

    Not run under authorized fetch: on loopback our instance actor's ``preferredUsername`` is
    ``127.0.0.1:PORT``, which no username may be, so each instance takes the other's instance-actor
    signature for none and serves it the barebones actor (without ``alsoKnownAs``); with a real host
    name it is a valid name."""
    with ExitStack() as stack:
        a = stack.enter_context(running_instance(tmp_path, "a", database_factory()))
        b = stack.enter_context(running_instance(tmp_path, "b", database_factory()))
        c = stack.enter_context(running_peer())
        yield a, b, c


def document(url: str, peer: FakePeer | None = None, reader: PeerActor | None = None) -> dict[str, Any]:
    """An actor document as a server fetches it: signed by ``reader`` on ``peer`` (as Mastodon signs its
    fetches), which authorized fetch needs for the whole document."""
    headers = peer.signed_get_headers(reader, url) if peer is not None and reader is not None else AS2
    response = httpx.get(url, headers=headers, timeout=5)
    assert response.status_code == 200, (url, response.status_code)
    return response.json()  # type: ignore[no-any-return]


def post_signed(peer: FakePeer, actor: PeerActor, inbox: str, activity: dict[str, Any]) -> None:
    """``actor`` on the fake server delivers ``activity`` to ``inbox``, signed as Mastodon signs."""
    body = json.dumps(activity).encode()
    response = httpx.post(inbox, content=body, headers=peer.signed_headers(actor, inbox, body), timeout=10)
    assert response.status_code == 202, response.text


def followers_of(instance: Instance, ap_id: str) -> set[str]:
    followee = select(Actor.id).where(Actor.ap_id == ap_id).scalar_subquery()
    rows = instance.read(
        select(Actor.ap_id)
        .join(Follow, Follow.follower_id == Actor.id)
        .where(Follow.followee_id == followee, Follow.state == FollowState.ACCEPTED)
    )
    return {row[0] for row in rows}


def test_a_move_between_two_instances_takes_the_followers_along(servers: tuple[Instance, Instance, FakePeer]) -> None:
    a, b, c = servers
    ana, bob = f"{a.base_url}/users/ana", f"{b.base_url}/users/bob"
    b.reverie("user", "create", "ben", "--no-password")
    ben = f"{b.base_url}/users/ben"
    # Given ana (on A) is followed by ben (on B) and by cat (on C, a Mastodon-shaped server)
    cat = c.add_actor("cat")
    c.trust(document(ana))
    c.trust(document(bob))
    b.reverie("follow", "ben", f"@ana@{a.host}")
    follow = {"id": f"{cat.id}#follows/1", "type": "Follow", "actor": cat.id, "object": ana}
    post_signed(c, cat, f"{a.base_url}/users/ana/inbox", follow)
    eventually(lambda: followers_of(a, ana) == {ben, cat.id}, "A to list ben and cat as ana's followers")
    # And bob (on B) lists ana as the account he moves from
    b.reverie("alias", "add", "bob", f"@ana@{a.host}")
    eventually(lambda: document(bob, c, cat).get("alsoKnownAs") == [ana], "bob's document to list ana")
    # When ana moves to bob from her terminal
    moved = a.reverie("move", "ana", f"@bob@{b.host}")
    assert f"@ana: moved to @bob@{b.host}" in moved
    # Then C receives one signed Move at its shared inbox, shaped as Mastodon's
    move = eventually(lambda: c.activities("Move"), "the Move to reach C")[0]
    assert (move["actor"], move["object"], move["target"]) == (ana, ana, bob)
    (received,) = [post for post in c.posts() if post.activity["type"] == "Move"]
    assert received.path == "/inbox" and received.signature_ok
    # …which checks out as Mastodon checks it: bob lists ana, and ana's own document points to bob
    assert ana in document(bob, c, cat)["alsoKnownAs"]
    assert document(ana, c, cat)["movedTo"] == bob
    # When C re-sends cat's follow to bob, B accepts it (a signed Accept embedding the Follow) and lists cat
    refollow = {"id": f"{cat.id}#follows/2", "type": "Follow", "actor": cat.id, "object": bob}
    post_signed(c, cat, f"{b.base_url}/users/bob/inbox", refollow)
    accept = eventually(
        lambda: [item for item in c.activities("Accept") if item["object"]["id"] == refollow["id"]], "B's Accept"
    )[0]
    assert accept["actor"] == bob
    assert all(post.signature_ok for post in c.posts() if post.activity["type"] == "Accept")
    # And B applied the same Move: ben follows bob now (and no longer ana), and is told
    eventually(lambda: followers_of(b, bob) == {ben, cat.id}, "B to list ben and cat as bob's followers")
    eventually(lambda: ben not in followers_of(a, ana), "A to drop ben's follow of ana")
    assert {row[0] for row in b.read(select(Notification.type))} >= {"move"}
    # And ana's profile points to bob; she can no longer post
    page = httpx.get(f"{a.base_url}/@ana", timeout=5).text
    assert "has moved to" in page and f"@bob@{b.host}" in page
    refused = run_reverie("post", "ana", "--prompt", "one more", env=a.env)
    assert refused.returncode == 1 and "has moved" in refused.stderr

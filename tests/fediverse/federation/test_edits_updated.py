"""``updated`` on edited Notes: milliseconds, strictly increasing (issue 12, item 9).

Mastodon applies an ``Update{Note}`` only when its ``updated`` is later than the one it stored, so a second
edit inside the same second used to be dropped there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from starlette.testclient import TestClient

from fediverse.federation.actors_in import parse_datetime
from fediverse.social import actions
from storage.models import Account
from tests.fediverse.federation.conftest import AS2, act, drain, publish, remote_follows
from tests.peers import FakePeer

MILLISECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_edits_in_the_same_millisecond_reach_a_follower_with_increasing_updated(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ana, followed by ben on a Mastodon-like server, and her post
    make_user("ana")
    peer.trust(client.get("/users/ana", headers=AS2).json())
    ben = peer.add_actor("ben")
    remote_follows(client, peer, ben, "ana")
    post = publish(client, "ana", "first")
    drain(client)
    # When she edits it three times while the clock reads the same instant
    frozen = datetime.now(UTC).replace(microsecond=123456) + timedelta(seconds=2)
    monkeypatch.setattr("fediverse.social.posts.utcnow", lambda: frozen)
    for caption in ("second", "third", "fourth"):
        act(client, partial(actions.edit_post, caption=caption), "ana", post.ap_id)
    drain(client)
    # Then ben's server gets three Updates (in whatever order they travel) whose ``updated`` carry
    # milliseconds, all different, the later edit always with the later time
    updates = [activity["object"] for activity in peer.activities("Update")]
    stamps = [note["updated"] for note in updates]
    assert all(MILLISECONDS.match(stamp) for stamp in stamps), stamps
    assert len(set(stamps)) == 3
    by_time = sorted(updates, key=lambda note: parse_datetime(note["updated"]) or frozen)
    assert [note["content"] for note in by_time] == ["<p>second</p>", "<p>third</p>", "<p>fourth</p>"]
    assert parse_datetime(by_time[0]["updated"]) == frozen.replace(microsecond=123000)
    stamps = [note["updated"] for note in by_time]
    # And the Note served at its id says the last of them
    assert client.get(post.ap_id, headers=AS2).json()["updated"] == stamps[-1]

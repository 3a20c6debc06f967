"""Two Reverie instances, each a real ``reverie serve`` process on 127.0.0.1, federating with each other.

Everything between them is real: WebFinger, signed fetches and deliveries, inboxes and workers. The
test acts through the ``reverie`` command like a person at a terminal and watches each instance from
outside (its HTTP API, or its database), polling with a bounded deadline: real processes take real time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from storage.models import Announce, Follow, FollowState, Like, Media, Notification, Post, PostMedia
from tests.processes import eventually, free_port, reverie_server, run_reverie
from tests.seeding import read_rows

pytestmark = pytest.mark.slow

AS2 = {"Accept": "application/activity+json"}


@dataclass
class Instance:
    base_url: str
    env: dict[str, str]
    database_url: str

    @property
    def host(self) -> str:
        return self.base_url.removeprefix("http://")

    def reverie(self, *arguments: str) -> str:
        result = run_reverie(*arguments, env=self.env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def publish(self, username: str, prompt: str, caption: str) -> str:
        """``reverie post``: paint the prompt, publish; returns the new note's id."""
        url = self.reverie("post", username, "--prompt", prompt, "--caption", caption).strip().splitlines()[-1]
        return f"{self.base_url}/users/{username}/statuses/{url.rsplit('/', 1)[1]}"

    def read(self, statement: Any) -> list[Any]:
        """Rows of a ``select`` on this instance's database, read from outside the process."""
        return read_rows(self.database_url, statement)


@contextmanager
def running_instance(tmp_path: Path, name: str, database_url: str, **extra: str) -> Iterator[Instance]:
    port = free_port()
    env = {
        "REVERIE_BASE_URL": f"http://127.0.0.1:{port}",
        "REVERIE_DATA_DIR": str(tmp_path / name),
        "REVERIE_DATABASE_URL": database_url,
        "REVERIE_ALLOW_PRIVATE_ADDRESSES": "true",
        **extra,
    }
    instance = Instance(env["REVERIE_BASE_URL"], env, database_url)
    instance.reverie("user", "create", "ana" if name == "a" else "bob", "--no-password")
    with reverie_server("serve", "--port", str(port), env=env, port=port, log=tmp_path / f"{name}.log"):
        yield instance


@pytest.fixture(params=["open", "authorized-fetch"])
def instances(
    request: pytest.FixtureRequest, tmp_path: Path, database_factory: Callable[[], str]
) -> Iterator[tuple[Instance, Instance]]:
    """Instance A (with ana) and instance B (with bob), each on its own database and data folder."""
    extra = {"REVERIE_AUTHORIZED_FETCH": "true"} if request.param == "authorized-fetch" else {}
    with ExitStack() as stack:
        a = stack.enter_context(running_instance(tmp_path, "a", database_factory(), **extra))
        b = stack.enter_context(running_instance(tmp_path, "b", database_factory(), **extra))
        yield a, b


def test_follow_post_like_boost_and_unfollow_across_two_instances(instances: tuple[Instance, Instance]) -> None:
    a, b = instances

    def bobs_followers() -> int:
        return len(b.read(select(Follow.id).where(Follow.state == FollowState.ACCEPTED)))

    def bobs_notifications() -> set[str]:
        return {row[0] for row in b.read(select(Notification.type))}

    # Given ana on A follows bob on B from her terminal
    a.reverie("follow", "ana", f"@bob@{b.host}")
    # Then B accepts, and A records the Accept
    eventually(lambda: bobs_followers() == 1, "B to list ana as bob's follower")
    eventually(lambda: a.read(select(Follow.state).where(Follow.state == FollowState.ACCEPTED)), "A to see the Accept")
    # When bob publishes
    post_id = b.publish("bob", "a harbour at first light, calm water", "first light over the harbour")
    # Then ana's instance receives it
    eventually(lambda: a.read(select(Post.id).where(Post.ap_id == post_id)), "the post to reach A")
    (content,) = a.read(select(Post.content_html).where(Post.ap_id == post_id))
    assert "first light over the harbour" in content[0]
    # …with its painted image, described for people who cannot see it
    (attachment,) = a.read(
        select(Media.remote_url, Media.alt_text, Media.blurhash)
        .join(PostMedia, PostMedia.media_id == Media.id)
        .join(Post, Post.id == PostMedia.post_id)
        .where(Post.ap_id == post_id)
    )
    assert attachment[0].startswith(b.base_url + "/media/") and attachment[1] and attachment[2]
    # …which A's worker caches, so A's pages show it from A's own origin (decision 0059)
    eventually(
        lambda: a.read(select(Media.id).where(Media.remote_url == attachment[0], Media.original_key.is_not(None))),
        "A to cache the picture",
    )
    ((a_post_id,),) = a.read(select(Post.id).where(Post.ap_id == post_id))
    page = httpx.get(f"{a.base_url}/@bob@{b.host}/{a_post_id}", timeout=5).text
    assert f'src="{a.base_url}/media/' in page and b.base_url + "/media/" not in page
    # When ana likes and boosts it
    a.reverie("like", "ana", post_id)
    a.reverie("boost", "ana", post_id)
    # Then bob's instance records both and notifies him
    eventually(lambda: b.read(select(Like.id)) and b.read(select(Announce.id)), "the like and boost to reach B")
    eventually(lambda: bobs_notifications() >= {"follow", "like", "announce"}, "bob's notifications")
    assert bobs_notifications() == {"follow", "like", "announce"}
    # When ana unfollows, bob's follower count drops
    a.reverie("unfollow", "ana", f"@bob@{b.host}")
    eventually(lambda: bobs_followers() == 0, "B to drop the follower")
    # And bob's followers collection says so to anyone allowed to read it
    followers = httpx.get(f"{b.base_url}/users/bob/followers", headers=AS2, timeout=5)
    if b.env.get("REVERIE_AUTHORIZED_FETCH") == "true":
        assert followers.status_code == 401
    else:
        assert followers.json()["totalItems"] == 0

"""Actors that declare no ``preferredUsername`` are accepted, known by a handle their server's WebFinger
gives, or by their id (issue 12, item 10; FEP-2c59's ``webfinger`` read as well, item 12).

fediverse-pasture's conformance actors (bovine) are minimal: id, type, inbox, outbox and key, nothing else;
they used to be refused with 401 ("actor has no usable preferredUsername"). Mastodon and GoToSocial accept
them and name them by WebFinger.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from storage.models import Account
from tests.conftest import TEST_BASE_URL
from tests.fediverse.federation.conftest import create_of, drain, remote_note, send_activity
from tests.fediverse.web.conftest import BROWSER
from tests.peers import FakePeer, PeerActor

#: What a bovine / fediverse-pasture actor leaves out of Mastodon's shape.
PASTURE_SHAPE = {
    key: None
    for key in ("preferredUsername", "name", "summary", "url", "followers", "following", "endpoints",
                "manuallyApprovesFollowers")
}  # fmt: skip


def pasture_actor(peer: FakePeer, username: str, path: str, key_index: int, **extra: object) -> PeerActor:
    actor = peer.add_actor(username, key_index, path=path, **{**PASTURE_SHAPE, **extra})
    assert "preferredUsername" not in actor.document()
    return actor


def post_from(client: TestClient, peer: FakePeer, actor: PeerActor, text: str) -> int:
    """``actor`` posts a public Note mentioning ana to our shared inbox; returns our answer's status."""
    ana = f"{TEST_BASE_URL}/users/ana"
    mention = {"type": "Mention", "href": ana, "name": f"@ana@{TEST_BASE_URL.split('://')[1]}"}
    note = remote_note(actor, 1, f"<p>{text}</p>", cc=[ana], tag=[mention])
    peer.add_object(note)
    status = send_activity(client, peer, actor, create_of(actor, note))
    drain(client)
    return status


def shown_post(client: TestClient, handle: str) -> str:
    """The page of the one post on ``handle``'s profile page (which names the handle), as a browser sees it."""
    profile = client.get(f"/{handle}", headers=BROWSER)
    assert profile.status_code == 200
    assert f'<p class="handle">{handle}</p>' in profile.text
    (link,) = re.findall(rf'<a class="tile" href="(/{re.escape(handle)}/\d+)"', profile.text)
    page = client.get(link, headers=BROWSER)
    assert page.status_code == 200
    return page.text


@pytest.mark.parametrize(
    ("how", "path", "shown_as", "extra", "fingered"),
    [
        # WebFinger by the actor's id names it (acct:wanda@host); the id's last segment would say "actor"
        ("webfinger lookup", "/pasture/wanda/actor", "wanda", {}, True),
        # FEP-2c59: the actor says its address itself
        ("webfinger property", "/pasture/frida/actor", "frida", {"webfinger": "frida@{host}"}, False),
        # Neither: the last segment of its id, as Mastodon falls back
        ("id", "/actors/9f2c", "9f2c", {}, False),
    ],
)
def test_an_actor_without_preferred_username_is_accepted_and_shown_by_its_handle(
    client: TestClient,
    peer: FakePeer,
    make_user: Callable[..., Account],
    how: str,
    path: str,
    shown_as: str,
    extra: dict[str, str],
    fingered: bool,
) -> None:
    # Given a conformance actor without preferredUsername on another server
    make_user("ana")
    username = path.strip("/").split("/")[1] if how != "id" else shown_as
    extra = {key: value.format(host=peer.host) for key, value in extra.items()}
    actor = pasture_actor(peer, username, path, 1, **extra)
    if not fingered:
        peer.unfingered.add(username)
    # When it delivers a public post, signed with its key
    status = post_from(client, peer, actor, f"hello from the pasture ({how})")
    # Then we accept it, and its profile page shows the post under the handle its server gives
    assert status == 202
    assert f"hello from the pasture ({how})" in shown_post(client, f"@{shown_as}@{peer.host}")


def test_a_webfinger_answer_for_another_actor_is_not_believed(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given an actor without preferredUsername whose server's WebFinger, asked by its id, names someone else
    make_user("ana")
    actor = pasture_actor(peer, "wanda", "/pasture/wanda/actor", 1)
    peer.add_actor("admin", 2)
    peer.webfinger_points["wanda"] = f"{peer.base_url}/users/admin"
    # When it posts, it is still accepted, but named by its id ("actor"), not by an address that is not its own
    assert post_from(client, peer, actor, "whose name is it") == 202
    assert "whose name is it" in shown_post(client, f"@actor@{peer.host}")


def test_a_split_domain_address_is_used_when_its_webfinger_confirms_the_actor(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given evan, whose actor lives on one server and whose address (FEP-2c59) is on another domain,
    # which WebFinger confirms; and mallory, who claims an address there that WebFinger does not confirm
    make_user("ana")
    evan = peer.add_actor("evan", 1, webfinger=f"evan@{other_peer.host}")
    other_peer.webfinger_points["evan"] = evan.id
    mallory = peer.add_actor("mallory", 2, webfinger=f"admin@{other_peer.host}")
    # When both post
    assert post_from(client, peer, evan, "from the split domain") == 202
    assert post_from(client, peer, mallory, "not really admin") == 202
    # Then evan is known by his address, mallory by her actor's own server
    assert "from the split domain" in shown_post(client, f"@evan@{other_peer.host}")
    assert "not really admin" in shown_post(client, f"@mallory@{peer.host}")
    assert client.get(f"/@admin@{other_peer.host}", headers=BROWSER).status_code != 200

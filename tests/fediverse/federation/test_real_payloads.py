"""What Mastodon, Pixelfed, GoToSocial, Misskey and Akkoma really send, through the real inbox.

Each payload in ``tests/data`` (sources in its README) has its hosts rewritten to the fake peer's and
ours, is signed by the peer's actor, POSTed to ``/inbox``, and applied by the worker; the tests then
read the rows a user of this instance would see.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from fediverse.social import actions
from storage.models import (
    Account,
    Actor,
    Announce,
    Block,
    Follow,
    FollowState,
    Like,
    Media,
    Mention,
    Notification,
    NotificationType,
    Post,
    PostMedia,
    PostTag,
    Report,
    Visibility,
)
from tests.conftest import TEST_BASE_URL
from tests.fediverse.federation.conftest import (
    act,
    create_of,
    deliver,
    drain,
    follow_remote,
    load_payload,
    publish,
    query,
    remote_follows,
    remote_note,
)
from tests.peers import FakePeer


def stored_post(client: TestClient, ap_id: str) -> Post:
    (row,) = query(client, select(Post).where(Post.ap_id == ap_id))
    return row[0]  # type: ignore[no-any-return]


def attachments(client: TestClient, post: Post) -> list[Media]:
    rows = query(
        client,
        select(Media)
        .join(PostMedia, PostMedia.media_id == Media.id)
        .where(PostMedia.post_id == post.id)
        .order_by(PostMedia.position),
    )
    return [row[0] for row in rows]


def tags(client: TestClient, post: Post) -> list[str]:
    return sorted(row[0] for row in query(client, select(PostTag.tag).where(PostTag.post_id == post.id)))


def notifications(client: TestClient, username: str) -> list[tuple[str, str | None, int | None]]:
    """(type, from actor id, post id) of a local account's notifications, oldest first."""
    rows = query(
        client,
        select(Notification.type, Actor.ap_id, Notification.post_id)
        .join(Account, Account.id == Notification.account_id)
        .outerjoin(Actor, Actor.id == Notification.actor_id)
        .where(Account.username == username)
        .order_by(Notification.id),
    )
    return [(row[0], row[1], row[2]) for row in rows]


# -- notes with images ------------------------------------------------------------------------


def test_mastodon_image_note_keeps_alt_text_blurhash_size_and_focal_point_in_order(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given karen here, and a Mastodon user who mentions her in a post with two images
    make_user("karen")
    admin = peer.add_actor("admin")
    payload = load_payload(
        "mastodon_create_note_image.json",
        {"https://mastodon.local": peer.base_url, "https://testing.local": TEST_BASE_URL},
    )
    # When the Create arrives
    deliver(client, peer, admin, payload)
    # Then the post is stored as Mastodon described it
    post = stored_post(client, payload["object"]["id"])
    assert post.visibility == Visibility.PUBLIC
    assert post.url == f"{peer.base_url}/@admin/113540118430339271"
    assert post.language == "en"
    assert post.sensitive is False
    assert post.summary is None
    assert "Low tide this morning" in post.content_html
    assert 'class="h-card"' in post.content_html
    assert 'translate="no"' in post.content_html  # Mastodon keeps translate="no" on mentions
    first, second = attachments(client, post)
    assert first.remote_url == payload["object"]["attachment"][0]["url"]
    assert first.mime == "image/jpeg"
    assert first.alt_text == "Wet sand with ripples, a heron far out in the shallows"
    assert first.blurhash == "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH"
    assert (first.width, first.height) == (1536, 1024)
    assert (first.focal_x, first.focal_y) == (-0.55, 0.43)
    assert second.mime == "image/png"
    assert second.alt_text == ""
    assert (second.width, second.height, second.focal_x, second.focal_y) == (800, 800, 0.0, 0.0)
    assert tags(client, post) == ["photography"]
    # And karen is mentioned and notified
    mentioned = query(client, select(Actor.ap_id).join(Mention, Mention.actor_id == Actor.id))
    assert [row[0] for row in mentioned] == [f"{TEST_BASE_URL}/users/karen"]
    assert notifications(client, "karen") == [(NotificationType.MENTION, admin.id, post.id)]


def test_mastodon_mention_with_content_warning(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given lain here, and Mastodon's capture of a post mentioning her behind a content warning
    make_user("lain")
    admin = peer.add_actor("admin")
    payload = load_payload(
        "mastodon_create_note_mention_cw.json",
        {"http://mastodon.example.org": peer.base_url, "http://localtesting.pleroma.lol": TEST_BASE_URL},
    )
    deliver(client, peer, admin, payload)
    # Then it is kept with its warning and she is notified
    post = stored_post(client, payload["object"]["id"])
    assert post.summary == "cw"
    assert post.sensitive is True
    assert "@<span>lain</span>" in post.content_html
    assert notifications(client, "lain") == [(NotificationType.MENTION, admin.id, post.id)]


def test_pixelfed_album_keeps_every_image_in_order(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows a Pixelfed user
    make_user("ana")
    dansup = peer.add_actor("dansup")
    follow_remote(client, peer, "ana", dansup)
    payload = load_payload("pixelfed_create_note_album.json", {"https://pixelfed.social": peer.base_url})
    # When his three-image album arrives
    deliver(client, peer, dansup, payload)
    # Then all three images are kept, in order, with what Pixelfed said about each
    post = stored_post(client, payload["object"]["id"])
    images = attachments(client, post)
    sent = payload["object"]["attachment"]
    assert [image.remote_url for image in images] == [item["url"] for item in sent]
    assert [image.alt_text for image in images] == [
        "A narrow street, shop lights coming on",
        "",
        "The same street, later, lights reflected in puddles",
    ]
    assert [image.blurhash for image in images] == [sent[0]["blurhash"], sent[1]["blurhash"], None]
    assert [(image.width, image.height) for image in images] == [(1080, 1350), (1080, 1080), (1080, 810)]
    assert [image.mime for image in images] == ["image/jpeg", "image/jpeg", "image/png"]
    assert tags(client, post) == ["dusk", "streetphotography"]
    # And the caption keeps its hashtag links but loses Pixelfed's title/rel attributes
    assert 'class="u-url hashtag"' in post.content_html
    assert "title=" not in post.content_html
    assert 'rel="nofollow noopener noreferrer"' in post.content_html
    assert post.visibility == Visibility.PUBLIC


def test_gotosocial_note_with_single_string_addressing(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows a GoToSocial user, whose note with an image arrives
    make_user("ana")
    admin = peer.add_actor("admin")
    follow_remote(client, peer, "ana", admin)
    payload = load_payload("gotosocial_create_note.json", {"http://localhost:8080": peer.base_url})
    assert isinstance(payload["to"], str)  # GoToSocial writes one addressee as a bare string
    deliver(client, peer, admin, payload)
    # Then it is public, without a content warning, with its image described
    post = stored_post(client, payload["object"]["id"])
    assert post.visibility == Visibility.PUBLIC
    assert post.summary is None  # GoToSocial sends "" for no content warning
    assert "hello world!" in post.content_html
    assert "target=" not in post.content_html
    (image,) = attachments(client, post)
    assert image.alt_text == "Black and white image of some 50's style text saying: Welcome On Board"
    assert image.blurhash == "LIIE|gRj00WB-;j[t7j[4nWBj[Rj"
    assert (image.focal_x, image.focal_y) == (-0.5, 0.5)
    assert tags(client, post) == ["welcome"]


def test_gotosocial_reply_mentioning_a_local_user_notifies_once(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana's post, and a GoToSocial user (whom nobody here follows) replying to it and mentioning her
    make_user("ana")
    admin = peer.add_actor("admin")
    original = publish(client, "ana", "welcome, everyone")
    payload = load_payload(
        "gotosocial_create_note_reply_mention.json",
        {
            "http://localhost:8080/users/the_mighty_zork/statuses/01F8MHAMCHF6Y650WCRSCP4WMY": original.ap_id,
            "http://localhost:8080/users/the_mighty_zork": f"{TEST_BASE_URL}/users/ana",
            "http://localhost:8080": peer.base_url,
        },
    )
    assert isinstance(payload["object"]["tag"], dict)  # one tag, not a list
    deliver(client, peer, admin, payload)
    # Then the reply is threaded under her post and she is notified once (a mention, not also a reply)
    reply = stored_post(client, payload["object"]["id"])
    assert reply.in_reply_to_id == original.id
    assert notifications(client, "ana") == [(NotificationType.MENTION, admin.id, reply.id)]


def test_misskey_note_with_a_file_and_a_content_warning(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows a Misskey user, whose note with a file arrives
    make_user("ana")
    aiko = peer.add_actor("9m4hfr7qwc", preferredUsername="aiko")  # Misskey actor URLs use an opaque id
    follow_remote(client, peer, "ana", aiko)
    payload = load_payload("misskey_note_with_file.json", {"https://misskey.example": peer.base_url})
    deliver(client, peer, aiko, payload)
    # Then the warning, the file and its description are kept, and the author has her username
    post = stored_post(client, payload["object"]["id"])
    assert post.summary == "eye strain"
    assert post.sensitive is True
    (image,) = attachments(client, post)
    assert image.mime == "image/webp"
    assert image.alt_text == "Orange koi under neon signs, rain on the water"
    assert tags(client, post) == ["aiart"]
    (author,) = query(client, select(Actor.username).where(Actor.ap_id == aiko.id))
    assert author[0] == "aiko"


# -- interactions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "hosts"),
    [
        ("mastodon_like.json", {"http://mastodon.example.org": "PEER", "http://localtesting.pleroma.lol": "US"}),
        ("misskey_like.json", {"http://mastodon.example.org": "PEER", "https://misskey.xyz": "PEER"}),
    ],
)
def test_likes_from_mastodon_and_misskey_are_counted_and_undone(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account], name: str, hosts: dict[str, str]
) -> None:
    # Given ana's post
    make_user("ana")
    admin = peer.add_actor("admin")
    post = publish(client, "ana", "a lighthouse at night")
    rewrite = {
        "http://localtesting.pleroma.lol/objects/eb92579d-3417-42a8-8652-2492c2d4f454": post.ap_id,
        "https://testing.pleroma.lol/objects/c331bbf7-2eb9-4801-a709-2a6103492a5a": post.ap_id,
        "https://testing.pleroma.lol/users/lain": f"{TEST_BASE_URL}/users/ana",
        **{old: peer.base_url if new == "PEER" else TEST_BASE_URL for old, new in hosts.items()},
    }
    like = load_payload(name, rewrite)
    # When the peer's like arrives, she sees it
    deliver(client, peer, admin, like)
    assert query(client, select(Like.ap_id))[0][0] == like["id"]
    assert notifications(client, "ana") == [(NotificationType.LIKE, admin.id, post.id)]
    # When it is undone (Mastodon's Undo embeds the Like), it is gone again
    undo = load_payload("mastodon_undo_like.json", rewrite)
    undo["object"]["id"] = like["id"]
    deliver(client, peer, admin, undo)
    assert query(client, select(Like.id)) == []
    assert notifications(client, "ana") == []


def test_akkoma_like(client: TestClient, peer: FakePeer, make_user: Callable[..., Account]) -> None:
    # Given ana's post, liked by an Akkoma user
    make_user("ana")
    mira = peer.add_actor("mira")
    post = publish(client, "ana", "fog over the bay")
    like = load_payload(
        "akkoma_like.json",
        {
            "https://reverie.example/users/ana/statuses/1": post.ap_id,
            "https://reverie.example": TEST_BASE_URL,
            "https://akkoma.example": peer.base_url,
        },
    )
    # When it arrives
    deliver(client, peer, mira, like)
    # Then she is notified
    assert notifications(client, "ana") == [(NotificationType.LIKE, mira.id, post.id)]


def test_mastodon_boost_by_url_and_its_undo(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows a Mastodon user who boosts his own note, named by its URL (/@admin/…) as Mastodon 2.x did
    make_user("ana")
    admin = peer.add_actor("admin")
    follow_remote(client, peer, "ana", admin)
    note = remote_note(admin, 99541947525187367, "<p>boost me</p>")
    note_id = note["id"]
    peer.add_object(note)
    peer.objects[f"{peer.base_url}/@admin/99541947525187367"] = note  # the URL serves the note with its id
    announce = load_payload("mastodon_announce.json", {"http://mastodon.example.org": peer.base_url})
    # When the Announce arrives, the note is fetched from its origin and the boost recorded
    deliver(client, peer, admin, announce)
    post = stored_post(client, note_id)
    assert query(client, select(Announce.post_id, Announce.ap_id)) == [(post.id, announce["id"])]
    # When it is undone, the boost is gone
    deliver(
        client, peer, admin, load_payload("mastodon_undo_announce.json", {"http://mastodon.example.org": peer.base_url})
    )
    assert query(client, select(Announce.id)) == []


# -- follows -----------------------------------------------------------------------------------


def test_mastodon_follow_is_accepted_then_undone(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given lain here and a Mastodon admin who follows her
    make_user("lain")
    admin = peer.add_actor("admin")
    hosts = {"http://mastodon.example.org": peer.base_url, "http://localtesting.pleroma.lol": TEST_BASE_URL}
    peer.trust(
        {"publicKey": {"id": f"{TEST_BASE_URL}/users/lain#main-key", "publicKeyPem": _public_pem(client, "lain")}}
    )
    follow = load_payload("mastodon_follow.json", hosts)
    deliver(client, peer, admin, follow)
    # Then the follow is accepted and the Accept, embedding the Follow, goes to admin's inbox signed by lain
    (accept,) = peer.activities("Accept")
    assert accept["object"]["id"] == follow["id"] == f"{peer.base_url}/users/admin#follows/2"
    assert accept["actor"] == f"{TEST_BASE_URL}/users/lain"
    assert all(post.signature_ok for post in peer.posts())
    assert query(client, select(Follow.state)) == [(FollowState.ACCEPTED,)]
    assert notifications(client, "lain") == [(NotificationType.FOLLOW, admin.id, None)]
    # When admin undoes it, the follow and its notification go
    deliver(client, peer, admin, load_payload("mastodon_undo_follow.json", hosts))
    assert query(client, select(Follow.id)) == []
    assert notifications(client, "lain") == []


def _public_pem(client: TestClient, username: str) -> str:
    (row,) = query(client, select(Actor.public_key_pem).where(Actor.ap_id == f"{TEST_BASE_URL}/users/{username}"))
    return row[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("name", "accepted"), [("mastodon_accept_follow.json", True), ("mastodon_reject_follow.json", False)]
)
def test_mastodon_answers_a_follow_whose_id_it_rewrote(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account], name: str, accepted: bool
) -> None:
    # Given lain asked to follow admin (our Follow id is not the one the capture embeds)
    make_user("lain")
    admin = peer.add_actor("admin")
    act(client, actions.follow, "lain", admin.id)
    drain(client)
    # When admin's Accept (or Reject) arrives, it is matched by the embedded Follow's actor
    answer = load_payload(
        name, {"http://mastodon.example.org": peer.base_url, "http://localtesting.pleroma.lol": TEST_BASE_URL}
    )
    deliver(client, peer, admin, answer)
    states = query(client, select(Follow.state))
    assert states == ([(FollowState.ACCEPTED,)] if accepted else [])


def test_mastodon_block_ends_follows_and_its_undo_lifts_it(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given lain and admin follow each other
    make_user("lain")
    admin = peer.add_actor("admin")
    follow_remote(client, peer, "lain", admin)
    remote_follows(client, peer, admin, "lain")
    assert len(query(client, select(Follow.id))) == 2
    hosts = {"http://mastodon.example.org": peer.base_url, "http://localtesting.pleroma.lol": TEST_BASE_URL}
    # When admin blocks lain, both follows end
    deliver(client, peer, admin, load_payload("mastodon_block.json", hosts))
    assert query(client, select(Follow.id)) == []
    assert len(query(client, select(Block.id))) == 1
    # When admin undoes it (the capture's Undo names another id than the Block had), the block is lifted
    deliver(client, peer, admin, load_payload("mastodon_undo_block.json", hosts))
    assert query(client, select(Block.id)) == []


# -- deletes and updates -----------------------------------------------------------------------


def test_mastodon_delete_with_tombstone_removes_the_post(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows gargron, whose post with an image we stored
    make_user("ana")
    gargron = peer.add_actor("gargron")
    follow_remote(client, peer, "ana", gargron)
    image = {"type": "Document", "mediaType": "image/png", "url": f"{peer.base_url}/a.png"}
    note = remote_note(gargron, 99620895606148759, "<p>to be deleted</p>", attachment=[image])
    note_id = note["id"]
    deliver(client, peer, gargron, create_of(gargron, note))
    assert len(query(client, select(Media.id))) == 1
    # When Mastodon's Delete{Tombstone} arrives
    deliver(
        client,
        peer,
        gargron,
        load_payload("mastodon_delete_tombstone.json", {"http://mastodon.example.org": peer.base_url}),
    )
    # Then the post is a tombstone: no text, no media
    post = stored_post(client, note_id)
    assert post.deleted_at is not None
    assert post.content_html == ""
    assert query(client, select(Media.id)) == []


def test_mastodon_account_delete_purges_everything_it_left(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given admin followed ana, liked her post and wrote one of his own that we stored
    make_user("ana")
    admin = peer.add_actor("admin")
    hosts = {"http://mastodon.example.org": peer.base_url}
    remote_follows(client, peer, admin, "ana")
    follow_remote(client, peer, "ana", admin)
    mine = publish(client, "ana", "hello")
    deliver(client, peer, admin, {"id": f"{admin.id}#likes/9", "type": "Like", "actor": admin.id, "object": mine.ap_id})
    note = remote_note(admin, 1, "<p>mine</p>")
    theirs = note["id"]
    deliver(client, peer, admin, create_of(admin, note))
    # When his account Delete arrives
    deliver(client, peer, admin, load_payload("mastodon_delete_actor.json", hosts))
    # Then his follows, like and post are gone, and he is marked gone
    assert query(client, select(Follow.id)) == []
    assert query(client, select(Like.id)) == []
    assert stored_post(client, theirs).deleted_at is not None
    assert notifications(client, "ana") == []
    (gone,) = query(client, select(Actor.gone_at, Actor.public_key_pem).where(Actor.ap_id == admin.id))
    assert gone[0] is not None and gone[1] is None


def test_mastodon_profile_update_is_applied_and_a_damaged_key_refetched(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows gargron
    make_user("ana")
    gargron = peer.add_actor("gargron")
    follow_remote(client, peer, "ana", gargron)
    hosts = {"http://mastodon.example.org": peer.base_url}
    # When his profile Update arrives
    deliver(client, peer, gargron, load_payload("mastodon_update_person.json", hosts))
    # Then his profile shows the new name, bio and images
    (row,) = query(
        client,
        select(Actor.display_name, Actor.summary_html, Actor.icon_url, Actor.header_url).where(
            Actor.ap_id == gargron.id
        ),
    )
    assert row == (
        "gargle",
        "<p>Some bio</p>",
        "https://cd.niu.moe/accounts/avatars/000/033/323/original/fd7f8ae0b3ffedc9.jpeg",
        "https://cd.niu.moe/accounts/headers/000/033/323/original/850b3448fa5fd477.png",
    )
    # And although the capture's key is damaged, his next activity still verifies (the key is fetched again)
    post = publish(client, "ana", "still here?")
    like = {"id": f"{gargron.id}#likes/1", "type": "Like", "actor": gargron.id, "object": post.ap_id}
    deliver(client, peer, gargron, like)
    assert notifications(client, "ana")[-1] == (NotificationType.LIKE, gargron.id, post.id)


# -- reports -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "actor_path", "hosts"),
    [
        (
            "mastodon_flag.json",
            "/actor",
            {"https://mastodon.local": "PEER", "https://reverie.example/users/ana/statuses/1": "POST",
             "https://reverie.example": "US"},
        ),
        (
            "gotosocial_flag.json",
            "/users/example.org",
            {"http://example.org": "PEER",
             "http://fossbros-anonymous.io/users/foss_satan/statuses/01FVW7JHQFSFK166WWKR8CBA6M": "POST",
             "http://fossbros-anonymous.io/users/foss_satan": "ANA"},
        ),
    ],
)  # fmt: skip
def test_reports_from_instance_actors_reach_the_moderators(
    client: TestClient,
    peer: FakePeer,
    make_user: Callable[..., Account],
    name: str,
    actor_path: str,
    hosts: dict[str, str],
) -> None:
    # Given a report by a server's instance actor about ana and her post
    make_user("ana")
    reporter = peer.add_actor(actor_path.rsplit("/", 1)[-1] or "actor", path=actor_path, type="Application")
    post = publish(client, "ana", "buy my pictures")
    values = {"PEER": peer.base_url, "POST": post.ap_id, "US": TEST_BASE_URL, "ANA": f"{TEST_BASE_URL}/users/ana"}
    flag = load_payload(name, {old: values[new] for old, new in hosts.items()})
    # When it arrives
    deliver(client, peer, reporter, flag)
    # Then the moderators see it, about ana, with the post and the comment
    (report,) = query(
        client,
        select(Report.ap_id, Report.comment, Report.post_ap_ids, Actor.ap_id).join(
            Actor, Actor.id == Report.target_actor_id
        ),
    )
    assert report == (flag["id"], flag["content"], [post.ap_id], f"{TEST_BASE_URL}/users/ana")

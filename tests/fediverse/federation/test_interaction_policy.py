"""GoToSocial's interaction controls (issue 12, item 4; decision 0063): a remote post's ``interactionPolicy``
decides what our users may do with it (refused with a reason, or sent to the author alone until they
``Accept``), our posts publish theirs, and a follower's reply that GoToSocial holds for our approval gets an
``Accept`` with an authorization we serve. The peer is a real HTTP server on 127.0.0.1 speaking GoToSocial's
shapes (``tests/data/gotosocial_create_note_interaction_policy.json``; Accepts as GoToSocial's
``InteractionReqToASAccept`` writes them)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from mastodon import Mastodon, MastodonAPIError
from sqlmodel import col, select
from starlette.testclient import TestClient

from fediverse.social import actions
from fediverse.social.posts import PostDraft
from storage.models import Account, Announce, Approval, Like, Post, Visibility
from tests.conftest import TEST_BASE_URL
from tests.fediverse.client_api.conftest import token_for  # noqa: F401 (a fixture, used by name)
from tests.fediverse.client_api.library_session import app_session
from tests.fediverse.federation.conftest import (
    AS2,
    PUBLIC,
    act,
    create_of,
    deliver,
    drain,
    follow_remote,
    known_actor,
    load_payload,
    publish,
    query,
    remote_follows,
    remote_note,
)
from tests.fediverse.federation.test_jsonld_context import MODES, expand, problems
from tests.fediverse.studio.conftest import sign_in
from tests.peers import FakePeer, PeerActor

NOTE_PATH = "/users/the_mighty_zork/statuses/01JJYCVKCXB9JTQD1XW2KB8MT3"
HTML = {"Accept": "text/html"}


def _policied_note(client: TestClient, peer: FakePeer) -> tuple[PeerActor, Post]:
    """ana follows zork on a GoToSocial peer; zork posts the note with a restrictive policy."""
    zork = peer.add_actor("the_mighty_zork")
    for name in ("f0x", "dumpsterqueer"):
        peer.add_actor(name)
    peer.trust(client.get("/users/ana", headers=AS2).json())
    follow_remote(client, peer, "ana", zork)
    create = load_payload(
        "gotosocial_create_note_interaction_policy.json",
        {"http://localhost:8080": peer.base_url, "https://gts.superseriousbusiness.org": peer.base_url},
    )
    deliver(client, peer, zork, create)
    (post,) = query(client, select(Post).where(col(Post.ap_id) == peer.base_url + NOTE_PATH))
    return zork, post[0]


def _nobody_note(client: TestClient, peer: FakePeer, zork: PeerActor) -> Post:
    """GoToSocial's "specifying nobody": only the author may reply or boost (the older ``always`` spelling
    for one of them), anyone may like."""
    note = remote_note(
        zork,
        2,
        "<p>no replies please</p>",
        interactionPolicy={
            "canLike": {"automaticApproval": PUBLIC},
            "canReply": {"automaticApproval": zork.id, "manualApproval": []},
            "canAnnounce": {"always": zork.id, "approvalRequired": None},
        },
    )
    deliver(client, peer, zork, create_of(zork, note))
    (post,) = query(client, select(Post).where(col(Post.ap_id) == note["id"]))
    return post[0]


@pytest.fixture
def users(make_user: Callable[..., Account]) -> dict[str, Account]:
    return {name: make_user(name) for name in ("ana", "bob")}


def test_a_gotosocial_policy_is_stored_compactly_in_both_spellings(
    client: TestClient, peer: FakePeer, users: dict[str, Account]
) -> None:
    # Given GoToSocial's note with a restrictive policy, and one in the older always/approvalRequired spelling
    zork, post = _policied_note(client, peer)
    nobody = _nobody_note(client, peer, zork)
    # Then each is stored as the rule reads it: the public as a keyword, collections and actors by id
    followers = f"{zork.id}/followers"
    assert post.interaction_policy == {
        "like": {"auto": ["public"], "manual": []},
        "reply": {
            "auto": [zork.id, followers, f"{peer.base_url}/users/dumpsterqueer", f"{peer.base_url}/users/f0x"],
            "manual": ["public"],
        },
        "announce": {"auto": [zork.id], "manual": ["public"]},
    }
    assert nobody.interaction_policy == {
        "like": {"auto": ["public"], "manual": []},
        "reply": {"auto": [zork.id], "manual": []},
        "announce": {"auto": [zork.id], "manual": []},
    }
    # and a note without a policy stores none (everyone may, as GoToSocial assumes)
    plain = remote_note(zork, 3)
    deliver(client, peer, zork, create_of(zork, plain))
    ((row,),) = query(client, select(Post).where(col(Post.ap_id) == plain["id"]))
    assert row.interaction_policy is None


def test_the_client_api_tells_each_viewer_what_the_policy_lets_them_do(
    client: TestClient,
    peer: FakePeer,
    users: dict[str, Account],
    token_for: Callable[..., dict[str, str]],  # noqa: F811
) -> None:
    # Given the policied note; ana follows its author, bob does not
    zork, post = _policied_note(client, peer)
    nobody = _nobody_note(client, peer, zork)
    as_ana, as_bob = token_for(users["ana"]), token_for(users["bob"])

    def policy(post_id: int, headers: dict[str, str]) -> dict[str, str]:
        response = client.get(f"/api/v1/statuses/{post_id}", headers=headers)
        assert response.status_code == 200, response.text
        found: dict[str, str] = response.json()["reverie"]["interaction_policy"]
        return found

    # Then a follower may reply (automatically; their server still waits for the author's Accept), and boost
    # only with approval; anyone else needs approval to reply too; everyone may like
    assert policy(post.id, as_ana) == {"can_reply": "automatic", "can_reblog": "manual", "can_favourite": "automatic"}
    assert policy(post.id, as_bob) == {"can_reply": "manual", "can_reblog": "manual", "can_favourite": "automatic"}
    # and "nobody but the author" is denied
    assert policy(nobody.id, as_bob) == {"can_reply": "denied", "can_reblog": "denied", "can_favourite": "automatic"}


def test_what_the_policy_forbids_is_refused_on_every_way_in(
    client: TestClient,
    peer: FakePeer,
    users: dict[str, Account],
    token_for: Callable[..., dict[str, str]],  # noqa: F811
) -> None:
    # Given a note nobody but its author may reply to or boost
    zork, _ = _policied_note(client, peer)
    nobody = _nobody_note(client, peer, zork)
    bob = sign_in(client, users["bob"])
    as_bob = token_for(users["bob"])
    refused_reply = "The author's interaction policy does not let you reply to this post."
    refused_boost = "The author's interaction policy does not let you boost this post."
    # When bob tries through the Mastodon client API: 422 with Mastodon's error body
    reply = client.post("/api/v1/statuses", json={"status": "hi", "in_reply_to_id": str(nobody.id)}, headers=as_bob)
    assert (reply.status_code, reply.json()) == (422, {"error": refused_reply})
    reblog = client.post(f"/api/v1/statuses/{nobody.id}/reblog", headers=as_bob)
    assert (reblog.status_code, reblog.json()) == (422, {"error": refused_boost})
    # through our JSON API
    ours = bob.post("/api/posts", json={"caption": "hi", "in_reply_to": nobody.ap_id})
    assert (ours.status_code, ours.json()) == (422, {"error": refused_reply})
    # and through the web forms (a page that says why)
    form = bob.post(f"/posts/{nobody.id}/boost", data={"next": "/"}, headers=HTML, follow_redirects=False)
    assert form.status_code == 422 and refused_boost.replace("'", "&#39;") in form.text
    reply_form = bob.post(
        "/compose/text", data={"caption": "hi", "in_reply_to": str(nobody.id)}, headers=HTML, follow_redirects=False
    )
    assert reply_form.status_code == 422
    # Then nothing was stored or sent, and the like the policy allows went through
    assert query(client, select(Announce.id)) == []
    assert query(client, select(Post.id).where(col(Post.in_reply_to_id) == nobody.id)) == []
    liked = client.post(f"/api/v1/statuses/{nobody.id}/favourite", headers=as_bob)
    assert liked.status_code == 200 and liked.json()["favourited"] is True
    drain(client)
    assert [activity["type"] for activity in peer.activities() if activity["type"] in ("Create", "Announce")] == []
    # and the page hides the reply form and disables the boost button, saying why
    page = bob.get(f"/@the_mighty_zork@{peer.host}/{nobody.id}").text
    assert 'class="reply-form"' not in page and "reply-closed" in page
    assert 'title="The author&#39;s interaction policy does not let you boost this post."' in page


def test_a_reply_that_needs_approval_waits_for_the_authors_accept_then_goes_out_with_approved_by(
    client: TestClient,
    peer: FakePeer,
    other_peer: FakePeer,
    users: dict[str, Account],
    token_for: Callable[..., dict[str, str]],  # noqa: F811,
) -> None:
    # Given the policied note, and bob (not a follower of its author) with a follower on another server
    zork, post = _policied_note(client, peer)
    carol = other_peer.add_actor("carol")
    remote_follows(client, other_peer, carol, "bob")
    # When bob replies: the policy asks for the author's approval
    reply = act(client, actions.publish, "bob", PostDraft(caption="may I?", in_reply_to=post))
    drain(client)
    # Then the reply goes to the author's server alone, and waits
    sent = [activity for activity in peer.activities("Create") if activity["object"]["id"] == reply.ap_id]
    assert len(sent) == 1 and "approvedBy" not in sent[0]["object"]
    assert [a for a in other_peer.activities("Create")] == []
    ((stored,),) = query(client, select(Post).where(col(Post.id) == reply.id))
    assert stored.approval == Approval.PENDING
    status = client.get(f"/api/v1/statuses/{reply.id}", headers=token_for(users["bob"])).json()
    assert status["reverie"]["approval"] == "pending"
    # When GoToSocial accepts it with an authorization (its documented Accept, with result)
    authorization = f"{zork.id}/authorizations/01J0K2YXP9QCT5BE1JWQSAM3B6"
    accept = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "actor": zork.id,
        "cc": [PUBLIC, f"{zork.id}/followers"],
        "to": f"{TEST_BASE_URL}/users/bob",
        "id": f"{zork.id}/accepts/01J0K2YXP9QCT5BE1JWQSAM3B6",
        "object": reply.ap_id,
        "target": post.ap_id,
        "result": authorization,
        "type": "Accept",
    }
    deliver(client, peer, zork, accept)
    # Then the reply carries the approval, served and sent again to everyone it addresses
    ((stored,),) = query(client, select(Post).where(col(Post.id) == reply.id))
    assert (stored.approval, stored.approved_by) == (None, authorization)
    served = client.get(reply.ap_id.removeprefix(TEST_BASE_URL), headers=AS2).json()
    assert served["approvedBy"] == authorization and served["replyAuthorization"] == authorization
    (resent,) = other_peer.activities("Create")
    assert resent["object"]["approvedBy"] == authorization
    approved = client.get(f"/api/v1/statuses/{reply.id}", headers=token_for(users["bob"])).json()
    assert approved["reverie"]["approval"] == "approved"
    # When bob boosts (approval needed) and GoToSocial accepts the "polite" way: the Accept embeds an
    # AnnounceRequest whose instrument is the boost (InteractionReqToASAccept's shape for polite requests)
    boost = act(client, actions.boost, "bob", post.ap_id)
    drain(client)
    assert other_peer.activities("Announce") == []
    polite = {
        "@context": ["https://gotosocial.org/ns", "https://www.w3.org/ns/activitystreams"],
        "actor": zork.id,
        "id": f"{zork.id}/accepts/01J1AKMZ8JE5NW0ZSFTRC1JJNE",
        "object": {
            "actor": f"{TEST_BASE_URL}/users/bob",
            "id": f"{TEST_BASE_URL}/users/bob/interaction_requests/1",
            "instrument": boost.ap_id,
            "object": post.ap_id,
            "type": "AnnounceRequest",
        },
        "result": f"{zork.id}/authorizations/01J1AKMZ8JE5NW0ZSFTRC1JJNE",
        "to": f"{TEST_BASE_URL}/users/bob",
        "type": "Accept",
    }
    deliver(client, peer, zork, polite)
    # Then the boost reaches bob's followers, carrying the approval
    (announce,) = other_peer.activities("Announce")
    assert announce["approvedBy"] == announce["announceAuthorization"] == polite["result"]


def test_an_accept_without_result_approves_by_the_accept_and_a_reject_is_shown(
    client: TestClient,
    peer: FakePeer,
    users: dict[str, Account],
    token_for: Callable[..., dict[str, str]],  # noqa: F811
) -> None:
    # Given the policied note: ana (a follower) may reply automatically, but her server must wait for the
    # author's Accept (the followers collection is the author's server's to check); bob boosts with approval
    zork, post = _policied_note(client, peer)
    reply = act(client, actions.publish, "ana", PostDraft(caption="hello zork", in_reply_to=post))
    boost = act(client, actions.boost, "bob", post.ap_id)
    second = act(client, actions.publish, "bob", PostDraft(caption="again?", in_reply_to=post))
    drain(client)
    assert {row.approval for (row,) in query(client, select(Post).where(col(Post.id).in_([reply.id, second.id])))} == {
        Approval.PENDING
    }
    ((pending_boost,),) = query(client, select(Announce).where(col(Announce.id) == boost.id))
    assert pending_boost.approval == Approval.PENDING
    # When GoToSocial answers as its InteractionReqToASAccept does for such a request (no result), and rejects
    # bob's boost and second reply (object: the interaction)
    accept = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "actor": zork.id,
        "cc": [PUBLIC, f"{zork.id}/followers"],
        "id": f"{zork.id}/accepts/01J1AKMZ8JE5NW0ZSFTRC1JJNE",
        "object": reply.ap_id,
        "target": post.ap_id,
        "to": f"{TEST_BASE_URL}/users/ana",
        "type": "Accept",
    }
    deliver(client, peer, zork, accept)
    for number, interaction in enumerate((boost.ap_id, second.ap_id)):
        reject = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "actor": zork.id,
            "to": f"{TEST_BASE_URL}/users/bob",
            "id": f"{zork.id}/activities/reject/0{number}",
            "object": interaction,
            "type": "Reject",
        }
        deliver(client, peer, zork, reject)
    # Then ana's reply is approved by the Accept itself; bob's boost and reply are marked rejected
    ((approved,),) = query(client, select(Post).where(col(Post.id) == reply.id))
    assert (approved.approval, approved.approved_by) == (None, accept["id"])
    ((rejected_boost,),) = query(client, select(Announce).where(col(Announce.id) == boost.id))
    ((rejected_reply,),) = query(client, select(Post).where(col(Post.id) == second.id))
    assert rejected_boost.approval == rejected_reply.approval == Approval.REJECTED
    # and the reply shows as rejected, to a client and on the page
    bob = sign_in(client, users["bob"])
    status = client.get(f"/api/v1/statuses/{second.id}", headers=token_for(users["bob"])).json()
    assert status["reverie"]["approval"] == "rejected"
    assert "Rejected by the author" in bob.get(f"/@bob/{second.id}").text
    # and the refused boost is in nobody's feed (bob's profile lists his reply, not the boost)
    feed = client.get(f"/api/v1/accounts/{users['bob'].actor_id}/statuses", headers=token_for(users["bob"])).json()
    assert [entry["reblog"] for entry in feed] == [None] and feed[0]["id"] == str(second.id)
    # and only the author may answer: an Accept of bob's reply by someone else changes nothing
    stranger = peer.add_actor("stranger")
    deliver(
        client,
        peer,
        stranger,
        {**accept, "id": f"{stranger.id}/accepts/1", "actor": stranger.id, "object": second.ap_id},
    )
    ((still,),) = query(client, select(Post).where(col(Post.id) == second.id))
    assert (still.approval, still.approved_by) == (Approval.REJECTED, None)


def test_our_posts_publish_their_policy_and_it_expands_under_json_ld_1_0_and_1_1(
    client: TestClient, peer: FakePeer, users: dict[str, Account]
) -> None:
    # Given a public, a followers-only and a direct post by ana (the direct one mentions ben, a follower)
    ben = peer.add_actor("ben")
    remote_follows(client, peer, ben, "ana")
    public = publish(client, "ana", "out in the open")
    followers = publish(client, "ana", "for my followers", visibility=Visibility.FOLLOWERS)
    direct = publish(client, "ana", "just us", visibility=Visibility.DIRECT, mentions=[known_actor(client, ben)])
    ana_id = f"{TEST_BASE_URL}/users/ana"
    drain(client)
    # (as fetched, and as delivered to ben's server, with the Create's context)
    fetched = {public.id: client.get(public.ap_id.removeprefix(TEST_BASE_URL), headers=AS2).json()}
    for activity in peer.activities("Create"):
        note = activity["object"]
        fetched.setdefault(
            next(p.id for p in (public, followers, direct) if p.ap_id == note["id"]),
            {"@context": activity["@context"], **note},
        )
    # Then each Note carries GoToSocial's current format: everyone automatically for public posts
    everyone = {"automaticApproval": [PUBLIC], "manualApproval": []}
    assert fetched[public.id]["interactionPolicy"] == {
        "canReply": everyone,
        "canLike": everyone,
        "canAnnounce": everyone,
        "canQuote": {"automaticApproval": [PUBLIC]},  # the quoting code's (decision 0064)
    }
    # followers (and the author) for followers-only posts, which nobody else may boost
    policy = fetched[followers.id]["interactionPolicy"]
    assert policy["canReply"]["automaticApproval"] == [ana_id, f"{ana_id}/followers"]
    assert policy["canLike"]["automaticApproval"] == [ana_id, f"{ana_id}/followers"]
    assert policy["canAnnounce"]["automaticApproval"] == [ana_id]
    # and the people mentioned for direct posts (as delivered)
    assert fetched[direct.id]["interactionPolicy"]["canReply"]["automaticApproval"] == [ana_id, ben.id]
    # and every document expands in both modes, keeping the policy under GoToSocial's namespace
    gts = "https://gotosocial.org/ns#"
    for mode in MODES:
        for document in fetched.values():
            assert problems(document, mode) == []
        (note,) = expand(fetched[followers.id], mode)
        (expanded_policy,) = note[gts + "interactionPolicy"]
        (can_reply,) = expanded_policy[gts + "canReply"]
        assert can_reply[gts + "automaticApproval"] == [{"@id": ana_id}, {"@id": f"{ana_id}/followers"}]


def test_a_followers_reply_gotosocial_holds_for_us_is_accepted_with_an_authorization_we_serve(
    client: TestClient, peer: FakePeer, users: dict[str, Account]
) -> None:
    # Given ana's followers-only post, and ben on a GoToSocial server who follows her
    ben = peer.add_actor("ben")
    peer.trust(client.get("/users/ana", headers=AS2).json())
    remote_follows(client, peer, ben, "ana")
    post = publish(client, "ana", "for my followers", visibility=Visibility.FOLLOWERS)
    drain(client)
    # When ben replies and likes without an approval: GoToSocial matched him on ana's followers collection,
    # so it holds both until her server accepts them
    reply = remote_note(
        ben, 7, "<p>lovely</p>", inReplyTo=post.ap_id, to=[f"{ben.id}/followers"], cc=[f"{TEST_BASE_URL}/users/ana"]
    )
    deliver(client, peer, ben, create_of(ben, reply))
    like = {"id": f"{ben.id}/likes/1", "type": "Like", "actor": ben.id, "object": post.ap_id}
    deliver(client, peer, ben, like)
    # Then ana's server sends each an Accept naming the interaction, the post and an authorization
    accepts = {accept["object"]: accept for accept in peer.activities("Accept") if isinstance(accept["object"], str)}
    assert set(accepts) >= {reply["id"], like["id"]}
    for interaction, kind in ((reply["id"], "ReplyAuthorization"), (like["id"], "LikeAuthorization")):
        accept = accepts[interaction]
        assert accept["actor"] == f"{TEST_BASE_URL}/users/ana" and accept["target"] == post.ap_id
        assert accept["to"] == [ben.id] and accept["result"].startswith(f"{TEST_BASE_URL}/users/ana/authorizations/")
        # which is served, checked as GoToSocial checks it (type, attributedTo, interactingObject)
        served = client.get(accept["result"].removeprefix(TEST_BASE_URL), headers=AS2)
        assert served.status_code == 200, served.text
        document = served.json()
        assert document["type"] == kind and document["attributedTo"] == f"{TEST_BASE_URL}/users/ana"
        assert document["interactingObject"] == interaction and document["interactionTarget"] == post.ap_id
        for mode in MODES:
            assert problems(document, mode) == []
    # and an interaction that already carries an approval, or one on a public post, gets none
    public = publish(client, "ana", "open")
    drain(client)
    before = len(peer.activities("Accept"))
    deliver(client, peer, ben, {"id": f"{ben.id}/likes/2", "type": "Like", "actor": ben.id, "object": public.ap_id})
    assert len(peer.activities("Accept")) == before
    assert query(client, select(Like.id).where(col(Like.ap_id) == f"{ben.id}/likes/2")) != []


def test_an_authorization_that_names_nothing_of_ours_is_not_found(
    client: TestClient, users: dict[str, Account]
) -> None:
    for path in (
        "/users/ana/authorizations/likes/12345",
        "/users/ana/authorizations/quotes/1",
        "/users/ana/authorizations/likes/x",
    ):
        assert client.get(path, headers=AS2).status_code == 404


def test_mastodon_py_sees_the_refusal_and_the_viewers_policy(
    client: TestClient,
    peer: FakePeer,
    users: dict[str, Account],
    token_for: Callable[..., dict[str, str]],  # noqa: F811
) -> None:
    # Given the note nobody but its author may reply to or boost, and bob's Mastodon.py
    zork, _ = _policied_note(client, peer)
    nobody = _nobody_note(client, peer, zork)
    token = token_for(users["bob"])["Authorization"].removeprefix("Bearer ")
    api = Mastodon(
        access_token=token, api_base_url=TEST_BASE_URL, session=app_session(client), mastodon_version="4.3.0"
    )
    # Then the status it reads carries what bob may do, and the refused actions raise with our reason
    status = api.status(nobody.id)
    assert status["reverie"]["interaction_policy"]["can_reblog"] == "denied"
    with pytest.raises(MastodonAPIError, match="does not let you boost"):
        api.status_reblog(nobody.id)
    with pytest.raises(MastodonAPIError, match="does not let you reply"):
        api.status_post("hi", in_reply_to_id=nobody.id)
    assert api.status_favourite(nobody.id)["favourited"] is True

"""Audit findings M1 and W6 on the pages: notifications, profiles, post pages and replies show a person
only the posts they may see (the post page's rule, blocks included)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from starlette.testclient import TestClient

from fediverse.social import actions
from storage.models import Account, Actor, Notification, NotificationType, Post, Visibility
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.web.conftest import BROWSER, page_url, sign_in

HTMX = {**BROWSER, "HX-Request": "true"}
ANA = f"{TEST_BASE_URL}/users/ana"
BEN = f"{TEST_BASE_URL}/users/ben"
CAL = f"{TEST_BASE_URL}/users/cal"


def as_user(client: TestClient, username: str) -> str:
    """Sign ``username`` in (signing out whoever was); returns the CSRF token."""
    client.cookies.clear()
    return sign_in(client, username)


def run_action(client: TestClient, action: Callable[..., object], *args: object) -> object:
    return run_in_app(client, action, services_of(client), *args)  # type: ignore[arg-type]


def unread_badge(client: TestClient) -> str:
    """The header of the home page, where the unread count shows."""
    return client.get("/", headers=BROWSER).text.split("<main")[0]


def store_notification(client: TestClient, account: Account, kind: NotificationType, actor: Post) -> None:
    """A notification row as an earlier version wrote it (about ``actor``'s post, from its author)."""

    async def run() -> None:
        async with services_of(client).db.transaction() as session:
            session.add(Notification(account_id=account.id, type=kind, actor_id=actor.author_id, post_id=actor.id))

    run_in_app(client, run)


def replies_by(client: TestClient, username: str) -> int:
    async def run() -> int:
        async with services_of(client).db.session() as session:
            found = await session.scalar(
                select(func.count())
                .select_from(Post)
                .join(Actor, Actor.id == Post.author_id)
                .where(Actor.username == username, Actor.is_local.is_(True), Post.in_reply_to_id.is_not(None))
            )
            return found or 0

    return run_in_app(client, run)


def test_m1_a_reply_the_parent_author_may_not_see_does_not_notify_them(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    # Given ana's public post, and ben's direct and followers-only replies to it (ana does not follow ben),
    # and an open one
    make_member("ana")
    make_member("ben")
    anas = post_as("ana", caption="anas lighthouse")
    whisper = post_as("ben", caption="a direct whisper", visibility=Visibility.DIRECT, in_reply_to=anas)
    followers = post_as("ben", caption="for my followers", visibility=Visibility.FOLLOWERS, in_reply_to=anas)
    post_as("ben", caption="an open answer", in_reply_to=anas)
    # When ana reads her notifications
    as_user(client, "ana")
    assert 'aria-label="1 unread"' in unread_badge(client)
    page = client.get("/notifications", headers=BROWSER).text
    # Then only the open reply is there: the others' pages answer her 404, so no excerpt leaks them
    assert page.count("replied to you") == 1 and "an open answer" in page
    assert "a direct whisper" not in page and "for my followers" not in page
    for hidden in (whisper, followers):
        assert client.get(page_url("ben", hidden), headers=BROWSER).status_code == 404


def test_m1_a_followers_only_reply_notifies_a_parent_author_who_follows(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    # Given ana following ben, and ben's followers-only reply to her post
    make_member("ana")
    make_member("ben")
    run_action(client, actions.follow, "ana", BEN)
    anas = post_as("ana", caption="anas lighthouse")
    post_as("ben", caption="for my followers", visibility=Visibility.FOLLOWERS, in_reply_to=anas)
    # Then she is told, as she may read it
    as_user(client, "ana")
    page = client.get("/notifications", headers=BROWSER).text
    assert "replied to you" in page and "for my followers" in page
    # When she stops following ben, the notification goes with her right to read the reply
    run_action(client, actions.unfollow, "ana", BEN)
    page = client.get("/notifications", headers=BROWSER).text
    assert "for my followers" not in page and "replied to you" not in page


def test_m1_a_direct_remix_does_not_notify_the_source_author(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    # Given ana's post, and ben's remixes of it: one direct (to nobody), one public
    make_member("ana")
    make_member("ben")
    anas = post_as("ana", caption="anas lighthouse")
    post_as("ben", caption="a private remix", visibility=Visibility.DIRECT, remix_of_ap_id=anas.ap_id)
    post_as("ben", caption="an open remix", remix_of_ap_id=anas.ap_id)
    # Then ana hears of the public one only
    as_user(client, "ana")
    assert 'aria-label="1 unread"' in unread_badge(client)
    page = client.get("/notifications", headers=BROWSER).text
    assert page.count("remixed your post") == 1 and "an open remix" in page
    assert "a private remix" not in page


def test_m1_notifications_stored_earlier_are_filtered_when_read(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    # Given notification rows an earlier version stored for ana about ben's direct reply and direct remix,
    # and cal's like of her post, which she may see
    ana = make_member("ana")
    make_member("ben")
    make_member("cal")
    anas = post_as("ana", caption="anas lighthouse")
    whisper = post_as("ben", caption="a direct whisper", visibility=Visibility.DIRECT, in_reply_to=anas)
    remix = post_as("ben", caption="a private remix", visibility=Visibility.DIRECT, remix_of_ap_id=anas.ap_id)
    store_notification(client, ana, NotificationType.REPLY, whisper)
    store_notification(client, ana, NotificationType.REMIX, remix)
    run_action(client, actions.like, "cal", anas.ap_id)
    # When ana reads her notifications, neither the count nor the list shows ben's private posts
    as_user(client, "ana")
    assert 'aria-label="1 unread"' in unread_badge(client)
    page = client.get("/notifications", headers=BROWSER).text
    assert "liked your post" in page
    assert "a direct whisper" not in page and "a private remix" not in page
    assert "replied to you" not in page and "remixed your post" not in page


def test_w6_a_a_blocked_viewer_gets_the_blockers_profile_without_posts_and_404_for_their_posts(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    # Given ana's public post, and ana blocking ben
    make_member("ana")
    make_member("ben")
    anas = post_as("ana", caption="anas lighthouse", generation={"prompt": "a lighthouse at dusk"})
    token = as_user(client, "ben")
    assert client.get("/api/remix", params={"source": anas.ap_id}).status_code == 200
    run_action(client, actions.block, "ana", BEN)
    # When ben opens her profile, he gets it without her posts (as Mastodon shows a blocker's profile)
    profile = client.get("/@ana", headers=BROWSER)
    assert profile.status_code == 200 and "You cannot follow this account" in profile.text
    assert "anas lighthouse" not in profile.text and f"/@ana/{anas.id}" not in profile.text
    assert f"/@ana/{anas.id}" not in client.get("/@ana", headers=HTMX).text  # the grid's next pages
    # And her post answers him 404, as does liking, boosting or answering it
    assert client.get(page_url("ana", anas), headers=BROWSER).status_code == 404
    for verb in ("like", "boost"):
        assert client.post(f"/posts/{anas.id}/{verb}", data={"csrf_token": token}, headers=BROWSER).status_code == 404
    reply = {"csrf_token": token, "in_reply_to": str(anas.id), "caption": "hey", "visibility": "public"}
    assert client.post("/compose/text", data=reply, headers=BROWSER).status_code == 404
    api_reply = {"caption": "hey", "in_reply_to": anas.ap_id}
    refused = client.post("/api/posts", json=api_reply, headers={"X-CSRF-Token": token})
    assert refused.status_code == 404 and refused.json() == {"error": "No such post."}
    # And her prompt is not his to remix any more
    assert client.get("/api/remix", params={"source": anas.ap_id}).status_code == 404


def test_w6_a_the_blocker_does_not_see_the_blocked_accounts_posts(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    # Given ben's post, a reply of his under cal's post, and ana blocking ben
    for name in ("ana", "ben", "cal"):
        make_member(name)
    bens = post_as("ben", caption="bens harbour")
    cals = post_as("cal", caption="cals meadow")
    post_as("ben", caption="bens answer", in_reply_to=cals)
    run_action(client, actions.block, "ana", BEN)
    # When ana opens his profile, she gets it (with Unblock) but none of his posts
    as_user(client, "ana")
    profile = client.get("/@ben", headers=BROWSER)
    assert profile.status_code == 200 and ">Unblock</button>" in profile.text
    assert "bens harbour" not in profile.text
    # And his post answers her 404, and his reply is not in cal's thread
    assert client.get(page_url("ben", bens), headers=BROWSER).status_code == 404
    assert "bens answer" not in client.get(page_url("cal", cals), headers=BROWSER).text
    # When she unblocks him, they are back
    run_action(client, actions.unblock, "ana", BEN)
    assert "bens harbour" in client.get("/@ben", headers=BROWSER).text
    assert client.get(page_url("ben", bens), headers=BROWSER).status_code == 200


def test_w6_c_a_reply_to_a_followers_only_post_its_author_cannot_see_is_refused(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    # Given ana's followers-only post, and ben, who does not follow her
    make_member("ana")
    make_member("ben")
    anas = post_as("ana", caption="for anas followers", visibility=Visibility.FOLLOWERS)
    token = as_user(client, "ben")
    # When ben replies to it through the JSON API, he gets the answer an unknown post gets, and nothing is stored
    unknown = client.post(
        "/api/posts", json={"caption": "hey", "in_reply_to": f"{ANA}/statuses/1"}, headers={"X-CSRF-Token": token}
    )
    refused = client.post(
        "/api/posts", json={"caption": "hey", "in_reply_to": anas.ap_id}, headers={"X-CSRF-Token": token}
    )
    assert (
        (refused.status_code, refused.json())
        == (unknown.status_code, unknown.json())
        == (404, {"error": "No such post."})
    )
    # And the reply form on the page refuses it too
    reply = {"csrf_token": token, "in_reply_to": str(anas.id), "caption": "hey", "visibility": "public"}
    assert client.post("/compose/text", data=reply, headers=BROWSER).status_code == 404
    assert replies_by(client, "ben") == 0
    # When he follows her, he may answer
    run_action(client, actions.follow, "ben", ANA)
    answered = client.post(
        "/api/posts", json={"caption": "hey", "in_reply_to": anas.ap_id}, headers={"X-CSRF-Token": token}
    )
    assert answered.status_code == 201 and replies_by(client, "ben") == 1
    # And ana was told of that reply only
    as_user(client, "ana")
    assert client.get("/notifications", headers=BROWSER).text.count("replied to you") == 1

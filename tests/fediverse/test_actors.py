"""The actor document, the instance actor, collections and content negotiation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.testclient import TestClient

from activitypub.keys import load_public_key
from fediverse.federation.notes import PostView, create_activity
from storage.models import Account, Actor, Follow, FollowState, Post, Visibility
from tests.conftest import TEST_BASE_URL, run_in_app, services_of

AS2 = {"Accept": "application/activity+json"}
LD = {"Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
ANA = f"{TEST_BASE_URL}/users/ana"


@pytest.mark.parametrize("accept", [AS2, LD], ids=["activity+json", "ld+json"])
def test_actor_document_has_what_mastodon_reads(
    client: TestClient, make_user: Callable[..., Account], accept: dict[str, str]
) -> None:
    make_user("ana", display_name="Ana Lima")
    response = client.get("/users/ana", headers=accept)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/activity+json")
    assert "Accept" in response.headers["vary"]
    actor = response.json()
    assert actor["@context"][0] == "https://www.w3.org/ns/activitystreams"
    terms = actor["@context"][2]
    assert terms["toot"] == "http://joinmastodon.org/ns#"
    assert terms["discoverable"] == "toot:discoverable"
    assert actor["id"] == ANA
    assert actor["type"] == "Person"
    assert actor["preferredUsername"] == "ana"
    assert actor["name"] == "Ana Lima"
    assert actor["url"] == f"{TEST_BASE_URL}/@ana"
    assert actor["inbox"] == f"{ANA}/inbox"
    assert actor["outbox"] == f"{ANA}/outbox"
    assert actor["followers"] == f"{ANA}/followers"
    assert actor["following"] == f"{ANA}/following"
    assert actor["featured"] == f"{ANA}/collections/featured"
    assert actor["endpoints"] == {"sharedInbox": f"{TEST_BASE_URL}/inbox"}
    assert actor["manuallyApprovesFollowers"] is False
    assert actor["discoverable"] is True
    assert actor["indexable"] is True
    assert datetime.fromisoformat(actor["published"]).tzinfo is not None
    assert isinstance(actor["summary"], str)
    key = actor["publicKey"]
    assert key["id"] == f"{ANA}#main-key"
    assert key["owner"] == ANA
    assert key["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    public_key = load_public_key(key["publicKeyPem"])
    assert isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == 2048
    assert "PRIVATE" not in response.text


def test_browser_at_actor_url_is_sent_to_the_html_profile(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    make_user("ana", display_name="Ana <Lima>")
    redirect = client.get("/users/ana", headers=BROWSER, follow_redirects=False)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == f"{TEST_BASE_URL}/@ana"
    page = client.get("/users/ana", headers=BROWSER)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "@ana@127.0.0.1:8765" in page.text
    assert "Ana &lt;Lima&gt;" in page.text  # escaped, never raw markup


def test_profile_url_serves_the_actor_to_activitypub_clients(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    response = client.get("/@ana", headers=AS2)
    assert response.status_code == 200
    assert response.json()["id"] == ANA


def test_unknown_actor_is_404_in_json_and_html(client: TestClient) -> None:
    as_json = client.get("/users/nobody", headers=AS2)
    assert as_json.status_code == 404
    assert as_json.json() == {"error": "No such account."}
    as_html = client.get("/@nobody", headers=BROWSER)
    assert as_html.status_code == 404
    assert "No such account." in as_html.text
    assert "Traceback" not in as_html.text
    assert client.get("/users/Not-Valid!", headers=AS2).status_code == 404


def test_instance_actor_is_an_application_with_a_key(client: TestClient) -> None:
    response = client.get("/actor", headers=AS2)
    assert response.status_code == 200
    actor = response.json()
    assert actor["type"] == "Application"
    assert actor["id"] == f"{TEST_BASE_URL}/actor"
    assert actor["publicKey"]["id"] == f"{TEST_BASE_URL}/actor#main-key"
    assert actor["publicKey"]["owner"] == actor["id"]
    assert actor["inbox"] and actor["preferredUsername"]


@pytest.mark.parametrize("collection", ["outbox", "followers", "following"])
def test_empty_collections_are_well_formed(
    client: TestClient, make_user: Callable[..., Account], collection: str
) -> None:
    make_user("ana")
    response = client.get(f"/users/ana/{collection}", headers=AS2)
    assert response.status_code == 200
    document = response.json()
    assert document["type"] == "OrderedCollection"
    assert document["id"] == f"{ANA}/{collection}"
    assert document["totalItems"] == 0
    page = client.get(document["first"].removeprefix(TEST_BASE_URL), headers=AS2).json()
    assert page["type"] == "OrderedCollectionPage"
    assert page["partOf"] == document["id"]
    assert page["orderedItems"] == []
    assert "next" not in page


def test_the_featured_collection_is_one_page_as_mastodons(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    document = client.get("/users/ana/collections/featured", headers=AS2).json()
    assert document["type"] == "OrderedCollection" and document["id"] == f"{ANA}/collections/featured"
    assert document["totalItems"] == 0 and document["orderedItems"] == [] and "first" not in document


def _add_remote_followers(client: TestClient, followee: Account, count: int) -> None:
    async def add() -> None:
        async with services_of(client).db.transaction() as session:
            for index in range(count):
                remote = Actor(
                    ap_id=f"https://remote.example/users/f{index}",
                    username=f"f{index}",
                    domain="remote.example",
                    inbox_url=f"https://remote.example/users/f{index}/inbox",
                )
                session.add(remote)
                await session.flush()
                assert remote.id is not None
                session.add(Follow(follower_id=remote.id, followee_id=followee.actor_id, state=FollowState.ACCEPTED))
            # A pending request is not a follower yet.
            pending = Actor(
                ap_id="https://remote.example/users/pending",
                username="pending",
                domain="remote.example",
                inbox_url="https://remote.example/users/pending/inbox",
            )
            session.add(pending)
            await session.flush()
            assert pending.id is not None
            session.add(Follow(follower_id=pending.id, followee_id=followee.actor_id))

    run_in_app(client, add)


def test_followers_collection_pages_through_accepted_followers(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    ana = make_user("ana")
    _add_remote_followers(client, ana, 45)
    collection = client.get("/users/ana/followers", headers=AS2).json()
    assert collection["totalItems"] == 45
    seen: list[str] = []
    url = collection["first"]
    while url:
        page = client.get(url.removeprefix(TEST_BASE_URL), headers=AS2).json()
        seen += page["orderedItems"]
        url = page.get("next")
    assert len(seen) == len(set(seen)) == 45
    assert "https://remote.example/users/pending" not in seen
    assert client.get("/users/ana/following", headers=AS2).json()["totalItems"] == 0
    assert client.get("/users/ana/followers?page=abc", headers=AS2).status_code == 400


def test_outbox_lists_public_and_unlisted_posts_as_create_activities(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    ana = make_user("ana")
    urls = services_of(client).urls

    async def add_posts() -> list[Post]:
        posts = []
        async with services_of(client).db.transaction() as session:
            for index, visibility in enumerate(
                [Visibility.PUBLIC, Visibility.UNLISTED, Visibility.FOLLOWERS, Visibility.DIRECT] * 6
            ):
                post = Post(
                    ap_id="pending",
                    author_id=ana.actor_id,
                    is_local=True,
                    visibility=visibility,
                    content_html=f"<p>post {index}</p>",
                    published=datetime(2026, 1, 1, tzinfo=UTC),
                )
                post.ap_id = urls.post_id("ana", post.id)
                session.add(post)
                posts.append(post)
        return posts

    posts = run_in_app(client, add_posts)
    collection = client.get("/users/ana/outbox", headers=AS2).json()
    assert collection["totalItems"] == 12
    items: list[dict[str, object]] = []
    url = collection["first"]
    while url:
        page = client.get(url.removeprefix(TEST_BASE_URL), headers=AS2).json()
        items += page["orderedItems"]
        url = page.get("next")
    assert len(items) == 12
    assert all(item["type"] == "Create" for item in items)
    listed = [p for p in posts if p.visibility in (Visibility.PUBLIC, Visibility.UNLISTED)]
    assert [item["object"]["id"] for item in items] == [p.ap_id for p in reversed(listed)]  # type: ignore[index]
    author = run_in_app(client, _load_actor, client, ana.actor_id)
    expected = create_activity(PostView(post=listed[-1], author=author), urls, context=False)
    assert items[0] == expected


async def _load_actor(client: TestClient, actor_id: int) -> Actor:
    async with services_of(client).db.session() as session:
        actor = await session.get(Actor, actor_id)
        assert actor is not None
        return actor

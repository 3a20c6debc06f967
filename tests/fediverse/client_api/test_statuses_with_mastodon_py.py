"""Mastodon.py against a real ``reverie serve``: posting, editing, history, source, context, timelines,
favourites, reblogs and bookmarks parse into its entities and page with its ``fetch_next``.

The token is minted into the server's database from outside (the OAuth flow has its own tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mastodon import Mastodon, MastodonNotFoundError
from sqlalchemy import select
from sqlmodel import col

from fediverse.web.client_api.auth import hash_token, new_secret
from storage.db import Database
from storage.models import Account, OAuthApp, OAuthToken
from tests.processes import free_port, reverie_server, run_reverie

pytestmark = pytest.mark.slow


def _mint_token(database_url: str, username: str) -> str:
    """A token with every scope for ``username``, written straight into the server's database."""
    token = new_secret()

    async def write() -> None:
        database = Database(database_url)
        try:
            async with database.transaction() as session:
                account = await session.scalar(select(Account).where(col(Account.username) == username))
                assert account is not None
                app = OAuthApp(
                    client_id=new_secret(),
                    client_secret_hash=hash_token(new_secret()),
                    name="Mastodon.py",
                    redirect_uris="urn:ietf:wg:oauth:2.0:oob",
                    scopes="read write follow",
                )
                session.add(app)
                await session.flush()
                session.add(
                    OAuthToken(
                        token_hash=hash_token(token),
                        refresh_hash=hash_token(new_secret()),
                        app_id=app.id or 0,
                        account_id=account.id,
                        scopes="read write follow",
                    )
                )
        finally:
            await database.dispose()

    asyncio.run(write())
    return token


@pytest.fixture
def server(tmp_path: Path, database_factory: Callable[[], str]) -> Iterator[tuple[str, str, str]]:
    """A running instance with ana and ben; yields its URL and a token of each."""
    port = free_port()
    database_url = database_factory()
    env = {
        "REVERIE_BASE_URL": f"http://127.0.0.1:{port}",
        "REVERIE_DATA_DIR": str(tmp_path / "data"),
        "REVERIE_DATABASE_URL": database_url,
    }
    for name in ("ana", "ben"):
        result = run_reverie("user", "create", name, "--no-password", env=env)
        assert result.returncode == 0, result.stderr
    with reverie_server("serve", "--port", str(port), env=env, port=port, log=tmp_path / "serve.log"):
        yield env["REVERIE_BASE_URL"], _mint_token(database_url, "ana"), _mint_token(database_url, "ben")


def test_mastodon_py_posts_edits_and_reads_statuses(server: tuple[str, str, str]) -> None:
    base_url, ana_token, ben_token = server
    ana = Mastodon(access_token=ana_token, api_base_url=base_url, ratelimit_method="throw")
    ben = Mastodon(access_token=ben_token, api_base_url=base_url, ratelimit_method="throw")
    # Ana posts, and a retried post with the same key is the same status
    first = ana.status_post("a harbour at dawn #sea", spoiler_text="bright", idempotency_key="one")
    assert ana.status_post("a harbour at dawn #sea", spoiler_text="bright", idempotency_key="one").id == first.id
    assert first.account.acct == "ana" and first.spoiler_text == "bright" and first.sensitive
    assert [tag.name for tag in first.tags] == ["sea"]
    # She edits it; the history has both versions and the source the new text
    edited = ana.status_update(first.id, "a harbour at noon #sea", spoiler_text="")
    assert "noon" in edited.content and edited.edited_at is not None and not edited.spoiler_text
    assert ["dawn" in version.content for version in ana.status_history(first.id)] == [True, False]
    assert ana.status_source(first.id).text == "a harbour at noon #sea"
    # Ben answers, favourites, reblogs and bookmarks
    reply = ben.status_post("lovely", in_reply_to_id=first.id, visibility="unlisted")
    assert reply.in_reply_to_id == first.id and reply.visibility == "unlisted"
    assert ben.status_favourite(first.id).favourited
    boost = ben.status_reblog(first.id)
    assert boost.reblog.id == first.id and boost.account.acct == "ben"
    assert ben.status_bookmark(first.id).bookmarked
    assert [status.id for status in ben.bookmarks()] == [first.id]
    assert [status.id for status in ben.favourites()] == [first.id]
    assert [account.acct for account in ana.status_favourited_by(first.id)] == ["ben"]
    assert [account.acct for account in ana.status_reblogged_by(first.id)] == ["ben"]
    context = ana.status_context(first.id)
    assert [status.id for status in context.descendants] == [reply.id]
    # Timelines, paged by Mastodon.py's own fetch_next from our Link header
    for number in range(3):
        ana.status_post(f"more {number}")
    page = ana.timeline_home(limit=2)
    seen = [status.id for status in page]
    while (page := ana.fetch_next(page)) is not None and len(page):
        seen += [status.id for status in page]
    assert len(seen) == len(set(seen)) == 4  # her own four (she follows nobody)
    assert first.id in seen
    assert [status.id for status in ana.timeline_hashtag("sea")] == [first.id]
    assert len(ana.timeline_local()) == 4  # the reply is left out
    # Ana deletes it: the answer carries the text for a redraft, and it is gone
    deleted = ana.status_delete(first.id)
    assert deleted.text == "a harbour at noon #sea"
    with pytest.raises(MastodonNotFoundError):
        ben.status(first.id)

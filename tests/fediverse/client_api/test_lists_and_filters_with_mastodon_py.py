"""Mastodon.py against a real ``reverie serve``: lists (create, rename, members, the list timeline, the
lists an account is on, delete) and filters (v2 with keywords and statuses, v1), parsed into its entities.

The tokens are minted into the server's database from outside (the OAuth flow has its own tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mastodon import Mastodon, MastodonAPIError, MastodonNotFoundError

from tests.fediverse.client_api.test_statuses_with_mastodon_py import _mint_token
from tests.processes import free_port, reverie_server, run_reverie

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path, database_factory: Callable[[], str]) -> Iterator[tuple[str, str, str, str]]:
    """A running instance with ana, ben and cara; yields its URL and a token of each."""
    port = free_port()
    database_url = database_factory()
    env = {
        "REVERIE_BASE_URL": f"http://127.0.0.1:{port}",
        "REVERIE_DATA_DIR": str(tmp_path / "data"),
        "REVERIE_DATABASE_URL": database_url,
    }
    for name in ("ana", "ben", "cara"):
        result = run_reverie("user", "create", name, "--no-password", env=env)
        assert result.returncode == 0, result.stderr
    with reverie_server("serve", "--port", str(port), env=env, port=port, log=tmp_path / "serve.log"):
        tokens = [_mint_token(database_url, name) for name in ("ana", "ben", "cara")]
        yield env["REVERIE_BASE_URL"], tokens[0], tokens[1], tokens[2]


def test_mastodon_py_lists_and_filters(server: tuple[str, str, str, str]) -> None:
    base_url, *tokens = server
    ana, ben, cara = (Mastodon(access_token=token, api_base_url=base_url, ratelimit_method="throw") for token in tokens)
    ben_account, cara_account = ben.me(), cara.me()
    ana.account_follow(ben_account)
    # Lists: create, rename, add a followed account (one not followed is refused)
    made = ana.list_create("Painters")
    assert made.title == "Painters" and made.replies_policy == "list" and made.exclusive is False
    renamed = ana.list_update(made, "Ink", replies_policy="followed", exclusive=True)
    assert (renamed.title, renamed.replies_policy, renamed.exclusive) == ("Ink", "followed", True)
    assert [item.id for item in ana.lists()] == [made.id] and ana.list(made).title == "Ink"
    ana.list_accounts_add(made, [ben_account])
    with pytest.raises(MastodonAPIError):
        ana.list_accounts_add(made, [cara_account])
    assert [account.acct for account in ana.list_accounts(made)] == ["ben"]
    assert [item.id for item in ana.account_lists(ben_account)] == [made.id]
    # The list timeline has ben's posts; the exclusive list keeps them out of ana's home
    posts = [ben.status_post(f"ben paints {number}") for number in range(3)]
    timeline = ana.timeline_list(made, limit=2)
    assert [status.id for status in timeline] == [posts[2].id, posts[1].id]
    older = ana.fetch_next(timeline)
    assert older is not None and [status.id for status in older] == [posts[0].id]
    assert all(status.id not in {post.id for post in posts} for status in ana.timeline_home())
    ana.list_accounts_delete(made, [ben_account])
    assert ana.list_accounts(made) == [] and ana.timeline_list(made) == []
    ana.list_delete(made)
    with pytest.raises(MastodonNotFoundError):
        ana.list(made)
    # Filters v2: a warning on a keyword, with a chosen status; statuses carry the results
    ana.list_create("unused")  # lists and filters are separate things
    quiet = ben.status_post("a quiet harbour")
    loud = ben.status_post("The FINALE was loud")
    made_filter = ana.create_filter_v2(
        "Spoilers", ["home", "public"], "warn", keywords_attributes=[{"keyword": "finale", "whole_word": True}]
    )
    assert made_filter.title == "Spoilers" and [item.keyword for item in made_filter.keywords] == ["finale"]
    chosen = ana.add_filter_status_v2(made_filter, quiet)
    assert chosen.status_id == quiet.id and ana.filter_status_v2(chosen).status_id == quiet.id
    added = ana.add_filter_keyword_v2(made_filter, "storm", whole_word=False)
    assert [item.keyword for item in ana.filter_keywords_v2(made_filter)] == ["finale", "storm"]
    ana.delete_filter_keyword_v2(added)
    assert [item.keyword for item in ana.filter_keywords_v2(made_filter)] == ["finale"]
    seen = {status.id: status for status in ana.timeline_home()}
    (result,) = seen[loud.id].filtered
    assert result.filter.title == "Spoilers" and result.keyword_matches == ["FINALE"]
    assert seen[quiet.id].filtered[0].status_matches == [quiet.id]
    updated = ana.update_filter_v2(made_filter, filter_action="hide", title="Plot")
    assert (updated.title, updated.filter_action) == ("Plot", "hide")
    assert [item.title for item in ana.filters_v2()] == ["Plot"] and ana.filter_v2(made_filter).title == "Plot"
    ana.delete_filter_status_v2(chosen)
    assert ana.filter_statuses_v2(made_filter) == []
    # v1 filters over the same rows
    v1 = ana.filter_create("harbour", ["home"], irreversible=True, whole_word=True)
    assert v1.phrase == "harbour" and v1.irreversible is True
    assert sorted(item.phrase for item in ana.filters()) == ["finale", "harbour"]
    assert ana.filter_update(v1, phrase="harbor").phrase == "harbor"
    ana.filter_delete(v1)
    ana.delete_filter_v2(made_filter)
    assert ana.filters_v2() == [] and ana.filters() == []

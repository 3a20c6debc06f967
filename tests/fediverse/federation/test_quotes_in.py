"""Quote posts from other servers (issue 12, item 8; decision 0064): a note that quotes another is stored with
the quoted post's id, the worker fetches the quoted post, and pages draw a quote card in place of the inline
``RE:`` fallback, for readers the one read rule lets see the quoted post only.

The quoting ``Create``s are files in ``tests/data`` (sources in its README): Mastodon 4.5's ``NoteSerializer``
(``quote``, ``quoteUri``, ``_misskey_quote``, ``interactionPolicy``, a ``<p class="quote-inline">``), a Misskey
capture (``_misskey_quote`` and ``quoteUrl``, the content's bare ``RE: url`` line) and a Fedibird capture
(``quoteUri``, a ``<span class="quote-inline"><br/>QT: …</span>``), their ids rewritten to the peer's."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from fediverse.federation.quotes import mark_fallback, without_fallback
from fediverse.federation.sanitize import sanitize_html
from storage.models import Account, Actor, FetchKind, Post, RemoteFetch
from tests.fediverse.federation.conftest import (
    deliver,
    follow_remote,
    load_payload,
    query,
    remote_note,
)
from tests.fediverse.web.conftest import BROWSER, PASSWORD, sign_in
from tests.peers import FakePeer, PeerActor

QUOTED_TEXT = "the original thought, worth quoting"


def quoted_post(peer: FakePeer, author: PeerActor, **fields: Any) -> dict[str, Any]:
    """The post being quoted, served by its server (Mastodon's ``NoteSerializer`` shape)."""
    note = remote_note(author, 1, f"<p>{QUOTED_TEXT}</p>", published="2026-11-30T10:00:00Z", **fields)
    peer.add_object(note)
    return note


@dataclass(frozen=True)
class QuoteShape:
    """A quoting ``Create`` in ``tests/data`` (sources in its README), with the ids it names: the author, the
    post it quotes, its host; and the quoting text, which pages keep."""

    name: str
    host: str
    author: str
    quoted: str
    text: str

    def create(self, peer: FakePeer, author: PeerActor, quoted_id: str) -> dict[str, Any]:
        """The ``Create`` as its server sends it, by the peer's ``author``, quoting ``quoted_id``."""
        return load_payload(self.name, {self.quoted: quoted_id, self.author: author.id, self.host: peer.base_url})


#: Mastodon 4.5's ``NoteSerializer``: ``quote``, ``quoteUri``, ``_misskey_quote``, the policy, the prepended
#: ``<p class="quote-inline">``.
MASTODON = QuoteShape(
    "mastodon_create_note_quote.json",
    "https://mastodon.local",
    "https://mastodon.local/users/koi",
    "https://mastodon.local/users/rin/statuses/115580923385542316",
    "so true",
)
#: Misskey's ``renderNote``: ``_misskey_quote`` and ``quoteUrl``, the bare ``RE:`` line at the end.
MISSKEY = QuoteShape(
    "misskey_create_note_quote.json",
    "https://misskey.io",
    "https://misskey.io/users/7rkrarq81i",
    "https://misskey.io/notes/8vs6wxufd0",
    "投稿者の設定によるね",
)
#: Fedibird's: ``quoteUri`` and ``_misskey_quote``, a ``<span class="quote-inline">`` with a ``QT:`` line.
FEDIBIRD = QuoteShape(
    "fedibird_create_note_quote.json",
    "https://fedibird.com",
    "https://fedibird.com/users/noellabo",
    "https://fedibird.com/users/yamako/statuses/107699333438289729",
    "美味しそう",
)


def arrive(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account], shape: QuoteShape
) -> tuple[dict[str, Any], dict[str, Any]]:
    """ana follows koi; koi quotes rin's post in ``shape``; returns (quoting note, quoted note)."""
    make_user("ana", password=PASSWORD)
    koi, rin = peer.add_actor("koi"), peer.add_actor("rin", 1)
    follow_remote(client, peer, "ana", koi)
    quoted = quoted_post(peer, rin)
    create = shape.create(peer, koi, quoted["id"])
    deliver(client, peer, koi, create)
    return create["object"], quoted


def page_of(client: TestClient, ap_id: str) -> str:
    ((post, author),) = query(
        client, select(Post, Actor).join(Actor, Actor.id == Post.author_id).where(Post.ap_id == ap_id)
    )
    return client.get(f"/@{author.username}@{author.domain}/{post.id}", headers=BROWSER).text


def quote_card(page: str) -> str:
    found = re.search(r'<(blockquote|div) class="quote-card[^"]*".*?</\1>', page, re.S)
    assert found is not None, "no quote card"
    return found.group(0)


def test_a_mastodon_quote_shows_the_quoted_post_as_a_card_without_the_fallback(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given koi (followed by ana) quotes rin's post as Mastodon 4.5 does
    note, quoted = arrive(client, peer, make_user, MASTODON)
    # Then the quote is stored and the worker fetched the quoted post (it was not stored before)
    ((quote_ap_id,),) = query(client, select(Post.quote_ap_id).where(Post.ap_id == note["id"]))
    assert quote_ap_id == quoted["id"]
    assert query(client, select(RemoteFetch.kind).where(RemoteFetch.target_ap_id == quoted["id"])) == [
        (FetchKind.QUOTE,)
    ]
    assert query(client, select(Post.id).where(Post.ap_id == quoted["id"]))
    # And the post page draws the card (author, text, link) and not the RE: line
    sign_in(client, "ana")
    page = page_of(client, note["id"])
    card = quote_card(page)
    assert QUOTED_TEXT in card and "rin" in card and "View quoted post" in card
    assert "RE:" not in page and MASTODON.text in page
    # And so does ana's home feed
    feed = client.get("/", headers=BROWSER).text
    assert QUOTED_TEXT in quote_card(feed) and "RE:" not in feed


def test_a_misskey_quote_shows_a_card_and_hides_the_re_line(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    note, quoted = arrive(client, peer, make_user, MISSKEY)
    ((quote_ap_id,),) = query(client, select(Post.quote_ap_id).where(Post.ap_id == note["id"]))
    assert quote_ap_id == quoted["id"]
    page = page_of(client, note["id"])
    assert QUOTED_TEXT in quote_card(page)
    assert "RE:" not in page and MISSKEY.text in page


def test_a_fedibird_quote_shows_a_card_and_hides_the_qt_line(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    note, _ = arrive(client, peer, make_user, FEDIBIRD)
    page = page_of(client, note["id"])
    assert QUOTED_TEXT in quote_card(page)
    assert "QT:" not in page and FEDIBIRD.text in page


def test_a_quoted_followers_only_post_is_not_shown_to_who_may_not_see_it(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given rin's followers-only post, quoted by koi (rin's own follower) in a public post ana sees
    make_user("ana", password=PASSWORD)
    koi, rin = peer.add_actor("koi"), peer.add_actor("rin", 1)
    follow_remote(client, peer, "ana", koi)
    quoted = quoted_post(peer, rin, to=[f"{rin.id}/followers"], cc=[])
    create = MASTODON.create(peer, koi, quoted["id"])
    deliver(client, peer, koi, create)
    note = create["object"]
    # Then ana (not rin's follower), and a visitor, get a neutral card: the private text never shows
    for signed_in in (False, True):
        if signed_in:
            sign_in(client, "ana")
        page = page_of(client, note["id"])
        card = quote_card(page)
        assert "Post unavailable" in card
        assert QUOTED_TEXT not in page and "RE:" not in page


def test_a_quote_whose_post_cannot_be_had_shows_post_unavailable(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana", password=PASSWORD)
    koi = peer.add_actor("koi")
    follow_remote(client, peer, "ana", koi)
    gone = f"{koi.id}/statuses/404"
    create = MASTODON.create(peer, koi, gone)
    deliver(client, peer, koi, create)
    note = create["object"]
    page = page_of(client, note["id"])
    assert "Post unavailable" in quote_card(page)


def test_fallbacks_are_marked_and_removed() -> None:
    quoted = "https://misskey.example/notes/abc"
    misskey = sanitize_html(f'<p><span>hi<br><br>RE: <a href="{quoted}">{quoted}</a></span></p>')
    marked = mark_fallback(misskey, quoted)
    assert 'class="quote-inline"' in marked
    assert without_fallback(marked) == "<p><span>hi</span></p>"
    # Older Misskey closes the text's span between the RE: and the link (tests/data/misskey_create_note_quote.json)
    older = sanitize_html(f'<p><span>hi<br><br>RE: </span><a href="{quoted}">{quoted}</a></p>')
    assert without_fallback(mark_fallback(older, quoted)) == "<p><span>hi</span></p>"
    mastodon = sanitize_html(f'<p>hi</p><p class="quote-inline">RE: <a href="{quoted}"><span>x</span></a></p>')
    assert without_fallback(mark_fallback(mastodon, quoted)) == "<p>hi</p>"
    # A RE: line that links something else, in the middle of the text, is left alone
    other = sanitize_html('<p>RE: <a href="https://elsewhere.example/">this</a> and more</p>')
    assert mark_fallback(other, quoted) == other

"""Quote posts as ActivityStreams (FEP-044f, Mastodon 4.5, Misskey, Fedibird; decision 0064).

Reading: which post a note quotes (``quote``, ``quoteUri``, ``quoteUrl``, ``_misskey_quote``, else a FEP-e232
object link), its ``quoteAuthorization``, and the inline fallback the author's server wrote into the content
(Mastodon's ``<p class="quote-inline">``, Fedibird's ``<span class="quote-inline">``, Misskey's bare ``RE:``
line), which we mark so pages can hide it while they draw the quote card.

Writing: the terms our quoting Note carries, the ``QuoteRequest`` we send when the quoted server wants to
be asked, and the ``Accept``/``Reject`` and ``QuoteAuthorization`` we answer with, shaped as Mastodon's.
"""

from __future__ import annotations

import html
import re
from typing import Any

from activitypub.vocab import LD_MEDIA_TYPE, JsonObject, as_list, get_id

#: Where servers put the quoted post's id, in Mastodon's order of preference (StatusParser#quote_uri).
QUOTE_KEYS = ("quote", "_misskey_quote", "quoteUrl", "quoteUri")
#: The class every quote-aware server (and Mastodon's apps) hides while it shows the quote itself.
FALLBACK_CLASS = "quote-inline"

_MARKED = re.compile(r'<(p|span) class="quote-inline">')
#: A bare ``RE:``/``QT:`` line ending in a link (Misskey's ``\n\nRE: url``, older Fedibird ``QT:``), with the
#: line breaks before it; older Misskey closes its text's ``<span>`` between the ``RE:`` and the link.
_BARE_LINE = re.compile(
    r'(?:<br\s*/?>\s*)*(?:RE|QT):\s*(?P<closers>(?:</span>\s*)*)<a href="(?P<href>[^"]*)"[^>]*>.*?</a>',
    re.IGNORECASE | re.DOTALL,
)
_TRAILING = re.compile(r"^(?:\s|</span>|</p>)*$")


def quoted_id(note: dict[str, Any], object_links: list[str]) -> str | None:
    """The id of the post ``note`` quotes: the first of ``QUOTE_KEYS`` that names one (an embedded object's
    ``id`` too), else the first FEP-e232 object link; ``None`` when it quotes nothing."""
    for key in QUOTE_KEYS:
        for value in as_list(note.get(key))[:1]:
            found = get_id(value)
            if found and found.startswith(("https://", "http://")):
                return found
    return object_links[0] if object_links else None


def quote_authorization_of(note: dict[str, Any]) -> str | None:
    """The ``quoteAuthorization`` a note names (an id; an embedded stamp's ``id``)."""
    for value in as_list(note.get("quoteAuthorization"))[:1]:
        found = get_id(value)
        if found and found.startswith(("https://", "http://")):
            return found
    return None


def mark_fallback(content_html: str, quote_id: str) -> str:
    """Sanitized content with its quote fallback inside a ``quote-inline`` element: already so for Mastodon and
    Fedibird; Misskey's bare ``RE: <a>`` line (linking the quoted post, or last in the content) is wrapped."""
    if _MARKED.search(content_html):
        return content_html
    chosen = None
    for match in _BARE_LINE.finditer(content_html):
        if html.unescape(match["href"]) == quote_id or _TRAILING.match(content_html[match.end() :]):
            chosen = match
    if chosen is None:
        return content_html
    start, end = chosen.span()
    # Closing tags inside the line move before it, so the wrapper holds the whole line and stays well nested
    line = content_html[start : chosen.start("closers")] + content_html[chosen.end("closers") : end]
    wrapped = f'{chosen["closers"]}<span class="{FALLBACK_CLASS}">{line}</span>'
    return f"{content_html[:start]}{wrapped}{content_html[end:]}"


def without_fallback(content_html: str) -> str:
    """``content_html`` without its ``quote-inline`` elements (what a page shows beside the quote card)."""
    result = content_html
    while (match := _MARKED.search(result)) is not None:
        name = match.group(1)
        tags = re.compile(rf"<(/?){name}\b[^>]*>")
        depth, end = 0, len(result)
        for tag in tags.finditer(result, match.start()):
            depth += -1 if tag.group(1) else 1
            if depth == 0:
                end = tag.end()
                break
        result = result[: match.start()] + result[end:]
    return re.sub(r"(?:<br\s*/?>\s*)+(</p>)$", r"\1", result).replace("<p></p>", "")


def fallback_html(quote_url: str) -> str:
    """The ``RE:`` paragraph our quoting Note carries for servers that know no quote terms (Mastodon 4.5's
    shape; quote-aware readers hide it)."""
    href = html.escape(quote_url, quote=True)
    return f'<p class="{FALLBACK_CLASS}">RE: <a href="{href}">{href}</a></p>'


def quote_terms(quote_id: str, authorization: str | None) -> JsonObject:
    """What our quoting Note carries: FEP-044f ``quote`` (Mastodon 4.5), ``quoteUri`` (Fedibird, Akkoma) and
    ``_misskey_quote`` (Misskey and its forks), and the ``quoteAuthorization`` once the author approved."""
    terms: JsonObject = {"quote": quote_id, "quoteUri": quote_id, "_misskey_quote": quote_id}
    if authorization:
        terms["quoteAuthorization"] = authorization
    return terms


def quote_link(quote_id: str) -> JsonObject:
    """FEP-e232's object link to the quoted post, for servers that read links but no quote terms."""
    return {"type": "Link", "mediaType": LD_MEDIA_TYPE, "href": quote_id, "name": f"RE: {quote_id}"}


def quote_request_id(post_ap_id: str) -> str:
    """The id of the ``QuoteRequest`` we send for one of our posts (one per quoting post)."""
    return f"{post_ap_id}#quote_request"


def quote_request(actor_id: str, post_ap_id: str, quoted_id: str, quoted_author_id: str) -> JsonObject:
    """FEP-044f's ``QuoteRequest``: ``object`` the quoted post, ``instrument`` our quoting post."""
    return {
        "id": quote_request_id(post_ap_id),
        "type": "QuoteRequest",
        "actor": actor_id,
        "object": quoted_id,
        "instrument": post_ap_id,
        "to": [quoted_author_id],
    }


def quote_authorization_document(authorization_id: str, author_id: str, quoting_id: str, quoted_id: str) -> JsonObject:
    """The ``QuoteAuthorization`` we serve (Mastodon's shape): who approved, which post may quote which."""
    return {
        "id": authorization_id,
        "type": "QuoteAuthorization",
        "attributedTo": author_id,
        "interactingObject": quoting_id,
        "interactionTarget": quoted_id,
    }


def request_answer(
    kind: str, author_id: str, answer_id: str, request: JsonObject, *, result: str | None = None
) -> JsonObject:
    """``Accept`` (with the authorization as ``result``) or ``Reject`` of a ``QuoteRequest``, embedding it."""
    answer: JsonObject = {
        "id": answer_id,
        "type": kind,
        "actor": author_id,
        "object": request,
        "to": [request["actor"]],
    }
    if result is not None:
        answer["result"] = result
    return answer

"""Remote HTML, reduced to the allowlist Mastodon keeps (≥ 4.2), before anything is stored.

Mastodon's sanitizer keeps links, paragraphs, line breaks, spans with its mention/hashtag/invisible
classes, and a few inline elements (decision 0014). Everything else is stripped to its text; scripts and
styles lose their content too. Remote text that is not HTML (display names, alt text) is stored as
text and escaped when rendered, never passed through here as markup.
"""

from __future__ import annotations

import html
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import nh3

ALLOWED_TAGS = {
    "p", "span", "br", "a", "del", "s", "pre", "code", "em", "strong", "b", "i", "u",
    "ul", "ol", "li", "blockquote", "ruby", "rt", "rp",
}  # fmt: skip
#: ``"*"`` replaces nh3's default generic attributes (``lang`` and ``title``): Mastodon keeps only ``lang``.
ALLOWED_ATTRIBUTES = {
    "*": {"lang"},
    "a": {"href", "class", "translate"},
    "span": {"class", "translate"},
    "p": {"class"},
    "ol": {"start", "reversed"},
    "li": {"value"},
}
ALLOWED_SCHEMES = {"http", "https", "dat", "dweb", "ipfs", "ipns", "ssb", "gopher", "xmpp", "magnet", "gemini"}
_CLASS_PREFIXES = ("h-", "p-", "u-", "dt-", "e-")
_CLASS_NAMES = {"mention", "hashtag", "ellipsis", "invisible", "quote-inline"}  # the last: a quote's fallback

#: Longest remote HTML we keep (Mastodon truncates bios at 20 kB; posts are far shorter).
MAX_HTML_LENGTH = 100_000


def _keep_classes(element: str, attribute: str, value: str) -> str | None:
    if attribute == "translate":
        return value if value == "no" else None  # Mastodon keeps only translate="no"
    if attribute != "class":
        return value
    kept = [name for name in value.split() if name in _CLASS_NAMES or name.startswith(_CLASS_PREFIXES)]
    return " ".join(kept) or None


def sanitize_html(markup: str) -> str:
    """Remote HTML reduced to the allowlist; links get ``rel="nofollow noopener noreferrer"``."""
    return _cleaner().clean(markup[:MAX_HTML_LENGTH])


@cache
def _cleaner() -> nh3.Cleaner:
    """The allowlist, built once: ``nh3.clean`` builds it again on every call, which was more than half of
    what cleaning a note cost (docs/benchmarks.md, "Inbox: plain Creates")."""
    import nh3  # loaded with the first remote HTML, not at start (docs/decisions/0053)

    return nh3.Cleaner(
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_keep_classes,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def html_to_text(markup: str) -> str:
    """Visible text of (sanitized) HTML, for previews, alt text and search."""
    import nh3

    spaced = markup.replace("<br>", "\n").replace("<br/>", "\n").replace("</p>", "\n\n")
    return html.unescape(nh3.clean(spaced, tags=set())).strip()

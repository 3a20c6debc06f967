"""Plain text a local user typed -> the HTML of a post: paragraphs, links, #hashtags and @mentions.

Everything is escaped first; only the markup this module adds is HTML. Mentions and hashtags use the
microformat classes Mastodon emits (``h-card``, ``u-url mention``, ``mention hashtag``), so every server
renders them as links.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

HASHTAG = re.compile(r"(?<![\w/#])#(\w{1,100})", re.UNICODE)
MENTION = re.compile(r"(?<![\w/@])@([a-zA-Z0-9_.\-]{1,64})(?:@([a-zA-Z0-9.\-]+(?::\d{1,5})?))?(?![\w@])")
URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
TOKEN = re.compile(
    "|".join(f"(?P<{name}>{regex.pattern})" for name, regex in (("url", URL), ("mention", MENTION), ("tag", HASHTAG)))
)

MAX_CAPTION_LENGTH = 2000


@dataclass(frozen=True)
class MentionTarget:
    """How a mention renders: the actor id (for the tag) and the profile URL (for the link)."""

    actor_id: str
    profile_url: str
    username: str
    domain: str


def normalize_tag(tag: str) -> str:
    """Hashtags compare lowercase and case-folded, as Mastodon does."""
    return unicodedata.normalize("NFKC", tag).casefold()


def extract_hashtags(text: str) -> list[str]:
    """Distinct normalised hashtags in order of first appearance."""
    return list(dict.fromkeys(normalize_tag(match.group(1)) for match in HASHTAG.finditer(text)))


def extract_mentions(text: str, local_host: str) -> list[tuple[str, str]]:
    """Distinct ``(username, host)`` pairs; a bare ``@name`` is on ``local_host``."""
    found = [(match.group(1).lower(), (match.group(2) or local_host).lower()) for match in MENTION.finditer(text)]
    return list(dict.fromkeys(found))


def render_text(
    text: str,
    *,
    local_host: str,
    tag_url: Callable[[str], str],
    mentions: Mapping[tuple[str, str], MentionTarget],
) -> str:
    """HTML for ``text``: paragraphs on blank lines, ``<br>`` on single newlines, links and mentions.

    ``mentions`` maps the pairs from ``extract_mentions`` to resolved accounts; a mention that did not
    resolve stays plain text.
    """

    def linkify(line: str) -> str:
        pieces: list[str] = []
        position = 0
        for match in TOKEN.finditer(line):
            pieces.append(html.escape(line[position : match.start()]))
            pieces.append(_render_token(match, local_host, tag_url, mentions))
            position = match.end()
        pieces.append(html.escape(line[position:]))
        return "".join(pieces)

    paragraphs = [block.strip("\n") for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if block.strip()]
    return "".join("<p>" + "<br>".join(linkify(line) for line in block.split("\n")) + "</p>" for block in paragraphs)


def _render_token(
    match: re.Match[str],
    local_host: str,
    tag_url: Callable[[str], str],
    mentions: Mapping[tuple[str, str], MentionTarget],
) -> str:
    token = match.group(0)
    if match.group("url"):
        href = html.escape(token, quote=True)
        return f'<a href="{href}" rel="nofollow noopener noreferrer" target="_blank">{html.escape(token)}</a>'
    if match.group("tag"):
        tag = match.group(0)[1:]
        href = html.escape(tag_url(normalize_tag(tag)), quote=True)
        return f'<a href="{href}" class="mention hashtag" rel="tag">#<span>{html.escape(tag)}</span></a>'
    username, _, host = token[1:].partition("@")
    target = mentions.get((username.lower(), (host or local_host).lower()))
    if target is None:
        return html.escape(token)
    href = html.escape(target.profile_url, quote=True)
    return (
        f'<span class="h-card" translate="no"><a href="{href}" class="u-url mention">'
        f"@<span>{html.escape(target.username)}</span></a></span>"
    )

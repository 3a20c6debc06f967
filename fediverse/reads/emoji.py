"""Custom emoji in remote posts, names and bios: ``:blobcat:`` drawn as its picture from our origin.

A remote post or actor keeps its ``Emoji`` tags as ``{shortcode: media_id}`` (``federation.remote_media``);
here a ``:shortcode:`` it names becomes an ``<img class="custom-emoji">`` whose ``src`` is the emoji's
cached file on our origin (``/media/remote/{id}/thumbnail``, fetched on demand like any remote file),
with ``alt`` and ``title`` the shortcode itself, so copying, screen readers and a missing picture all
still read ``:blobcat:``. Only text between tags changes (never an attribute), shortcodes are
``[A-Za-z0-9_]`` and the URL is ours: the markup stays what the sanitiser let through plus these images.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape
from typing import Any

from fediverse.core.urls import Urls

#: ``:shortcode:`` not inside a word; ``:a::b:`` is two emoji, as Misskey writes them.
_SHORTCODE = re.compile(r"(?<![A-Za-z0-9_]):([A-Za-z0-9_]{2,100}):(?![A-Za-z0-9_])")
#: Sanitised HTML alternates text and tags; a ``<`` in text is always escaped there.
_TAG = re.compile(r"(<[^>]*>)")


def emoji_image(shortcode: str, media_id: int, urls: Urls) -> str:
    src = escape(urls.remote_media_url(media_id, "thumbnail"))
    return (
        f'<img class="custom-emoji" src="{src}" alt=":{shortcode}:" title=":{shortcode}:" '
        'width="20" height="20" loading="lazy" decoding="async">'
    )


def emojify_html(html: str, emojis: Mapping[str, Any] | None, urls: Urls) -> str:
    """Sanitised ``html`` with the shortcodes of ``emojis`` drawn as their pictures (others left as text)."""
    if not emojis or ":" not in html:
        return html

    def replace(match: re.Match[str]) -> str:
        media_id = emojis.get(match.group(1))
        if not isinstance(media_id, int) or isinstance(media_id, bool):
            return match.group(0)
        return emoji_image(match.group(1), media_id, urls)

    parts = _TAG.split(html)
    for index in range(0, len(parts), 2):  # even places: text between tags
        parts[index] = _SHORTCODE.sub(replace, parts[index])
    return "".join(parts)


def emojify_text(text: str, emojis: Mapping[str, Any] | None, urls: Urls) -> str:
    """Plain ``text`` (a display name) as HTML: escaped, then its shortcodes drawn as pictures."""
    return emojify_html(escape(text, quote=False), emojis, urls)

"""Remote ``Note`` documents -> post fields, attachments, tags and mentions.

Tolerant of what Mastodon, Pixelfed, GoToSocial, Misskey and Akkoma send (``federation.md`` §4), strict
about what could hurt: HTML is sanitized, URLs must be http(s), blurhashes and sizes are validated,
attachments, hashtags and mentions are capped (the rest ignored), and one bad attachment is skipped
without losing the post (Pixelfed drops the whole post; we do not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from activitypub.errors import InvalidDocumentError
from activitypub.vocab import (
    PUBLIC_ALIASES,
    as_list,
    get_id,
    get_ids,
    get_str,
    get_types,
    get_url,
    iter_objects,
)
from fediverse.core.text import normalize_tag
from fediverse.federation.actors_in import host_of, parse_datetime
from fediverse.federation.interaction_policies import parse_policy
from fediverse.federation.quotes import mark_fallback, quote_authorization_of, quoted_id
from fediverse.federation.sanitize import html_to_text, sanitize_html
from storage.models import QuoteState, Visibility

NOTE_TYPES = frozenset({"Note", "Article", "Page", "Question", "Image"})
MAX_ATTACHMENTS = 20
#: Hashtags and mentions kept per note: far more than any person writes, far fewer than a 1 MB note holds.
MAX_TAGS = 50
MAX_MENTIONS = 50
#: FEP-e232 object links read per note (only to learn whether a note points at one of our posts).
MAX_OBJECT_LINKS = 10
#: The media types FEP-e232 gives an object link (the second, the FEP says, counts as the first).
OBJECT_LINK_MEDIA_TYPES = frozenset(
    {'application/ld+json;profile="https://www.w3.org/ns/activitystreams"', "application/activity+json"}
)  # compared without spaces
#: A quote's columns (decision 0064): kept as the author's server says, and replaced by its edits.
QUOTE_FIELDS = ("quote_ap_id", "quote_state", "quote_authorization")
MAX_ALT_TEXT = 1500
MAX_DIMENSION = 16_384
_BLURHASH = re.compile(r"^[0-9A-Za-z#$%*+,\-.:;=?@\[\]^_{|}~]{6,164}$")
_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


@dataclass(frozen=True)
class RemoteAttachment:
    url: str
    mime: str
    alt_text: str = ""
    blurhash: str | None = None
    width: int | None = None
    height: int | None = None
    focal_x: float = 0.0
    focal_y: float = 0.0


@dataclass(frozen=True)
class RemoteNote:
    ap_id: str
    author_id: str
    fields: dict[str, Any]
    attachments: list[RemoteAttachment] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    mention_ids: list[str] = field(default_factory=list)
    #: Objects the note links to (FEP-e232 ``Link`` tags): read, not stored, and not shown as quotes.
    object_links: list[str] = field(default_factory=list)


def is_valid_blurhash(value: str) -> bool:
    """A blurhash Mastodon would keep: base83, components within 1..9 and the length they imply."""
    if not _BLURHASH.fullmatch(value):
        return False
    size = _BASE83.index(value[0])
    x_components, y_components = size % 9 + 1, size // 9 + 1
    return len(value) == 4 + 2 * x_components * y_components


def visibility_of(note: dict[str, Any], followers_url: str | None) -> str:
    """Mastodon's reading of the addressing (StatusParser#visibility)."""
    to, cc = set(get_ids(note.get("to"))), set(get_ids(note.get("cc")))
    if to & PUBLIC_ALIASES:
        return Visibility.PUBLIC
    if cc & PUBLIC_ALIASES:
        return Visibility.UNLISTED
    if followers_url and followers_url in to | cc:
        return Visibility.FOLLOWERS
    return Visibility.DIRECT


def parse_note(note: dict[str, Any], followers_url: str | None) -> RemoteNote:
    """Read a remote Note. ``InvalidDocumentError`` when it has no id or author."""
    note_id = get_str(note, "id")
    if not note_id or not note_id.startswith(("https://", "http://")):
        raise InvalidDocumentError("object has no http(s) id")
    if not get_types(note) & NOTE_TYPES:
        raise InvalidDocumentError("object is not a Note")
    author_id = get_id(as_list(note.get("attributedTo"))[0] if as_list(note.get("attributedTo")) else None)
    if not author_id:
        raise InvalidDocumentError("Note has no attributedTo")
    content = get_str(note, "content")
    content_map = note.get("contentMap")
    language = None
    if isinstance(content_map, dict) and content_map:
        language = next(iter(content_map))
        content = content or (content_map[language] if isinstance(content_map[language], str) else None)
    if "Question" in get_types(note) or "Article" in get_types(note) or "Page" in get_types(note):
        title = get_str(note, "name")
        content = (f"<p><strong>{title}</strong></p>" if title and "<" not in title else "") + (content or "")
    url = get_url(note.get("url"))
    if url and host_of(url) != host_of(note_id):
        url = None
    summary = get_str(note, "summary")
    generation = note.get("generation")
    fields: dict[str, Any] = {
        "ap_id": note_id,
        "url": url or note_id,
        "visibility": visibility_of(note, followers_url),
        "content_html": sanitize_html(content or ""),
        "summary": html_to_text(summary)[:500] if summary else None,
        "sensitive": note.get("sensitive") is True or bool(summary),
        "language": language[:16] if language else None,
        "in_reply_to_ap_id": get_id(note.get("inReplyTo")),
        "published": parse_datetime(note.get("published")),
        "edited_at": parse_datetime(note.get("updated")),
        "generation": _plain_generation(generation),
        "remix_of_ap_id": get_id(note.get("remixOf")),
        "mood_word": _mood(note),
        "interaction_policy": parse_policy(note),
        "raw": note,
    }
    # The first MAX_TAGS distinct hashtags and MAX_MENTIONS distinct mentions count; the rest are ignored.
    tags: dict[str, None] = {}
    mention_ids: dict[str, None] = {}
    object_links: dict[str, None] = {}
    for tag in iter_objects(note.get("tag")):
        kinds = get_types(tag)
        name = get_str(tag, "name") or ""
        if "Hashtag" in kinds and name.lstrip("#") and len(tags) < MAX_TAGS:
            tags[normalize_tag(name.lstrip("#"))[:255]] = None
        elif "Mention" in kinds and (href := get_id(tag.get("href"))) and len(mention_ids) < MAX_MENTIONS:
            mention_ids[href] = None
        elif (href := object_link(tag)) is not None and len(object_links) < MAX_OBJECT_LINKS:
            object_links[href] = None
    attachments = [parsed for item in iter_objects(note.get("attachment")) if (parsed := _attachment(item))]
    quote = quoted_id(note, list(object_links))
    if quote is not None and quote not in (note_id, fields["remix_of_ap_id"]):
        fields["quote_ap_id"] = quote
        fields["quote_state"] = QuoteState.ACCEPTED  # as the author's server says; checked when shown
        fields["quote_authorization"] = quote_authorization_of(note)
        fields["content_html"] = mark_fallback(fields["content_html"], quote)
    return RemoteNote(
        ap_id=note_id,
        author_id=author_id,
        fields=fields,
        attachments=attachments[:MAX_ATTACHMENTS],
        tags=list(tags),
        mention_ids=list(mention_ids),
        object_links=list(object_links),
    )


def object_link(tag: Any) -> str | None:
    """The ``href`` of a FEP-e232 object link (a ``Link`` whose media type names an ActivityStreams
    document), or ``None``."""
    media_type = "".join((get_str(tag, "mediaType") or "").split())  # spacing around ";" varies
    if "Link" not in get_types(tag) or media_type not in OBJECT_LINK_MEDIA_TYPES:
        return None
    href = get_str(tag, "href")
    return href if href and href.startswith(("https://", "http://")) else None


def _attachment(item: Any) -> RemoteAttachment | None:
    """One attachment, or ``None`` when it is unusable (no http(s) url, not an image)."""
    url = get_url(item.get("url"))
    if not url:
        return None
    mime = get_str(item, "mediaType") or _link_media_type(item.get("url")) or ""
    if not mime.startswith("image/"):
        return None
    alt = get_str(item, "summary") or get_str(item, "name") or ""
    blurhash = get_str(item, "blurhash")
    focal = item.get("focalPoint")
    focal_x = focal_y = 0.0
    if isinstance(focal, list) and len(focal) == 2 and all(isinstance(v, int | float) for v in focal):
        focal_x, focal_y = (max(-1.0, min(1.0, float(v))) for v in focal)
    return RemoteAttachment(
        url=url,
        mime=mime[:127],
        alt_text=html_to_text(alt)[:MAX_ALT_TEXT] if "<" in alt else alt[:MAX_ALT_TEXT],
        blurhash=blurhash if blurhash and is_valid_blurhash(blurhash) else None,
        width=_dimension(item.get("width")),
        height=_dimension(item.get("height")),
        focal_x=focal_x,
        focal_y=focal_y,
    )


def _link_media_type(value: Any) -> str | None:
    for link in iter_objects(value):
        if media_type := get_str(link, "mediaType"):
            return media_type
    return None


def _dimension(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_DIMENSION else None


def _plain_generation(value: Any) -> dict[str, Any] | None:
    """Another Reverie's provenance block, kept only as plain JSON values of bounded size."""
    if not isinstance(value, dict):
        return None
    kept = {
        key: item
        for key, item in value.items()
        if isinstance(key, str) and len(key) <= 64 and isinstance(item, str | int | float | bool | type(None) | dict)
    }
    return kept if len(repr(kept)) <= 10_000 else None


def _mood(note: dict[str, Any]) -> str | None:
    mood = get_str(note, "mood")
    return mood[:64] if mood else None

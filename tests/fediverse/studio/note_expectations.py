"""What Mastodon, Pixelfed and GoToSocial demand of an incoming image Note, written down from their source so
a test fails as soon as our Note drifts from what they accept (federation.md §4; the rules, not their code).

Pixelfed, ``app/Util/ActivityPub/Helpers.php`` ``verifyAttachments`` (media_types default
``image/jpeg,image/png,image/gif``): every attachment has ``type`` Document or Image, a ``url``, a
``mediaType`` among the media types, ``name`` null or a string, ``blurhash`` null or 6-164 characters,
``width``/``height`` null or integers 1-5000. One bad attachment rejects them all, and a Note that is not
a reply and has no valid attachment is dropped. Alt text is read from ``name``; public means the full
``#Public`` IRI; ``url`` must be a single string.

Mastodon, ``app/lib/activitypub/parser/media_attachment_parser.rb`` and ``activity/create.rb``: at most four
attachments; ``url`` a string (or Link); the description is ``summary`` if present, else ``name``; a
blurhash is kept only if it is base83 with at most 5x5 components; the type comes from ``mediaType``.

GoToSocial, ``internal/ap/extract.go``: Image/Document attachments with ``url`` and ``mediaType``;
description from ``summary`` else ``name``; ``focalPoint`` two numbers within -1..1.
"""

from __future__ import annotations

import re
from typing import Any

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
PIXELFED_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif")
BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
MASTODON_BLURHASH = re.compile(r"^[\w#$%*+,\-.:;=?@\[\]^{|}~]+$")


def pixelfed_problems(note: dict[str, Any]) -> list[str]:
    """Why Pixelfed would drop this Note's images (or the whole Note); empty when it keeps them."""
    problems = []
    attachments = note.get("attachment") or []
    if not attachments and not note.get("inReplyTo"):
        problems.append("a Note without images that is not a reply is dropped")
    for index, item in enumerate(attachments):
        where = f"attachment {index}"
        if item.get("type") not in ("Document", "Image"):
            problems.append(f"{where}: type {item.get('type')!r}")
        if not isinstance(item.get("url"), str) or not item["url"].startswith(("https://", "http://")):
            problems.append(f"{where}: url is not a plain URL string")
        if item.get("mediaType") not in PIXELFED_MEDIA_TYPES:
            problems.append(f"{where}: mediaType {item.get('mediaType')!r}")
        if item.get("name") is not None and not isinstance(item["name"], str):
            problems.append(f"{where}: name is not a string")
        blurhash = item.get("blurhash")
        if blurhash is not None and not (isinstance(blurhash, str) and 6 <= len(blurhash) <= 164):
            problems.append(f"{where}: blurhash length")
        for side in ("width", "height"):
            value = item.get(side)
            if value is not None and not (isinstance(value, int) and 1 <= value <= 5000):
                problems.append(f"{where}: {side} {value!r}")
    if not isinstance(note.get("url"), str):
        problems.append("url is not a single string")
    return problems


def mastodon_reads(note: dict[str, Any]) -> list[dict[str, Any]]:
    """The attachments as Mastodon stores them: url, type, description, blurhash (None when refused), focus."""
    read = []
    for item in (note.get("attachment") or [])[:4]:
        url = item.get("url")
        href = url.get("href") if isinstance(url, dict) else url
        blurhash = item.get("blurhash")
        if not (isinstance(blurhash, str) and MASTODON_BLURHASH.match(blurhash) and max(_components(blurhash)) <= 5):
            blurhash = None
        read.append(
            {
                "url": href,
                "type": item.get("mediaType"),
                "description": (item.get("summary") or item.get("name") or "").strip() or None,
                "blurhash": blurhash,
                "focus": item.get("focalPoint"),
            }
        )
    return read


def gotosocial_problems(note: dict[str, Any]) -> list[str]:
    problems = []
    for index, item in enumerate(note.get("attachment") or []):
        if item.get("type") not in ("Image", "Document") or not item.get("url") or not item.get("mediaType"):
            problems.append(f"attachment {index}: needs type, url and mediaType")
        focus = item.get("focalPoint")
        if focus is not None and not (
            isinstance(focus, list) and len(focus) == 2 and all(-1 <= value <= 1 for value in focus)
        ):
            problems.append(f"attachment {index}: focalPoint {focus!r}")
    return problems


def _components(blurhash: str) -> tuple[int, int]:
    size = BASE83.index(blurhash[0])
    return size % 9 + 1, size // 9 + 1

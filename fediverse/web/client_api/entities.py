"""Mastodon's entities, shaped from our rows (docs/client-api.md).

Plain functions from loaded rows to JSON-ready dicts; nothing here queries. The rules every entity follows,
because real clients crash without them: ids are strings, times are ISO 8601 in UTC with milliseconds,
lists are never null, an attachment always has a ``url``, and ``content`` is the same sanitised HTML our
pages show. Account ids are actor ids (local or remote alike), status ids are post ids (a boost's is its
``Announce`` id), attachment ids are media ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from fediverse.core.urls import Urls
from fediverse.reads.cards import PostCard, avatar_url, header_url, image_view
from storage.models import Actor, Media, Post, Visibility

Json = dict[str, Any]

#: Shown for accounts without an avatar or header (clients need an image URL; Mastodon does the same).
DEFAULT_AVATAR_PATH = "/static/avatar.png"
DEFAULT_HEADER_PATH = "/static/header.png"
#: Our visibilities are Mastodon's, but for the name of followers-only.
_VISIBILITY_OUT = {Visibility.FOLLOWERS: "private"}
_VISIBILITY_IN = {"private": Visibility.FOLLOWERS}


def iso(moment: datetime | None) -> str | None:
    """``2026-12-03T10:11:12.345Z``, as Mastodon writes times."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def day(moment: datetime | None) -> str | None:
    """``2026-12-03``: Mastodon's ``last_status_at`` is a date."""
    return moment.astimezone(UTC).date().isoformat() if moment is not None else None


def visibility_out(visibility: str) -> str:
    return _VISIBILITY_OUT.get(Visibility(visibility), visibility)


def visibility_in(name: str) -> Visibility | None:
    """Our visibility for a Mastodon name (``None`` when it is not one)."""
    if name in _VISIBILITY_IN:
        return _VISIBILITY_IN[name]
    try:
        visibility = Visibility(name)
    except ValueError:
        return None
    return None if visibility == Visibility.FOLLOWERS else visibility


def acct(actor: Actor, urls: Urls) -> str:
    """``name`` for our own accounts, ``name@host`` for everyone else."""
    return actor.username if actor.is_local or actor.domain == urls.host else f"{actor.username}@{actor.domain}"


def account(actor: Actor, urls: Urls) -> Json:
    """Mastodon's ``Account``. Counts are what we store (decision 0052); a remote server's own totals are
    not fetched."""
    avatar = avatar_url(actor, urls) or urls.absolute(DEFAULT_AVATAR_PATH)
    header = header_url(actor, urls) or urls.absolute(DEFAULT_HEADER_PATH)
    profile = urls.profile_url(actor.username) if actor.is_local else (actor.url or actor.ap_id)
    return {
        "id": str(actor.id),
        "username": actor.username,
        "acct": acct(actor, urls),
        "display_name": actor.display_name or "",
        "locked": actor.manually_approves_followers,
        "bot": actor.type in ("Service", "Application"),
        "group": actor.type == "Group",
        "discoverable": actor.discoverable,
        "indexable": actor.indexable,
        "hide_collections": False,
        "noindex": not actor.indexable,
        "created_at": iso(actor.published or actor.created_at),
        "note": actor.summary_html or "",
        "url": profile,
        "uri": actor.ap_id,
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": actor.followers_count,
        "following_count": actor.following_count,
        "statuses_count": actor.posts_count,
        "last_status_at": None,
        "emojis": custom_emojis(actor.emojis, urls),
        "fields": [],
        "roles": [],
    }


def _size(width: int | None, height: int | None) -> Json:
    if not width or not height:
        return {}
    return {"width": width, "height": height, "size": f"{width}x{height}", "aspect": round(width / height, 6)}


def media_attachment(media: Media, urls: Urls) -> Json:
    """Mastodon's ``MediaAttachment``: an image. ``url`` is null only while it is still being processed
    (``POST /api/v2/media`` answers 202 then)."""
    view = image_view(media, urls)
    size = _size(media.width, media.height)
    return {
        "id": str(media.id),
        "type": "image",
        "url": view.url if view else None,
        "preview_url": view.thumbnail_url if view else None,
        "remote_url": media.remote_url,
        "preview_remote_url": None,
        "text_url": None,
        "meta": {
            **({"original": size, "small": size} if size else {}),
            "focus": {"x": media.focal_x, "y": media.focal_y},
        },
        "description": media.alt_text or None,
        "blurhash": media.blurhash,
    }


def custom_emojis(emojis: Mapping[str, Any] | None, urls: Urls) -> list[Json]:
    """Mastodon's ``CustomEmoji`` list of a remote post or account: each picture on our origin (decision 0059)."""
    return [
        {
            "shortcode": shortcode,
            "url": urls.remote_media_url(media_id, "original"),
            "static_url": urls.remote_media_url(media_id, "thumbnail"),
            "visible_in_picker": False,
        }
        for shortcode, media_id in sorted((emojis or {}).items())
        if isinstance(media_id, int) and not isinstance(media_id, bool)
    ]


def mention(actor: Actor, urls: Urls) -> Json:
    return {
        "id": str(actor.id),
        "username": actor.username,
        "url": urls.profile_url(actor.username) if actor.is_local else (actor.url or actor.ap_id),
        "acct": acct(actor, urls),
    }


def tag(name: str, urls: Urls) -> Json:
    return {"name": name, "url": urls.tag_url(name)}


def reverie_block(card: PostCard) -> Json | None:
    """What only Reverie has: how the image was painted (prompt only when shown), mood, remix source."""
    post = card.post
    generation = card.generation
    if not generation and not post.mood_emoji and not post.mood_word and not post.remix_of_ap_id:
        return None
    digital_source = next((media.digital_source_type for media in card.view.media if media.digital_source_type), None)
    return {
        "prompt": card.prompt,
        "prompt_hidden": post.hide_prompt,
        "seed": generation.get("seed"),
        "backend": generation.get("backend"),
        "model": generation.get("model"),
        "mood": {"emoji": post.mood_emoji, "word": post.mood_word} if post.mood_emoji or post.mood_word else None,
        "remix_of": post.remix_of_ap_id,
        "ai_generated": bool(generation) or digital_source is not None,
        "digital_source_type": digital_source,
    }


def status(
    card: PostCard,
    urls: Urls,
    *,
    parent_account_ids: Mapping[int, int] | None = None,
    bookmarked: Iterable[int] = (),
    pinned: Iterable[int] = (),
) -> Json:
    """Mastodon's ``Status`` for a card; a boost (``card.booster``) is wrapped as Mastodon does, the
    outer status being the boost and ``reblog`` the boosted post.

    ``parent_account_ids`` maps a reply's parent post id to its author's actor id (for
    ``in_reply_to_account_id``); ``bookmarked`` and ``pinned`` are the viewer's post ids."""
    post, author = card.post, card.author
    bookmarked_ids = set(bookmarked)
    inner: Json = {
        "id": str(post.id),
        "uri": post.ap_id,
        "url": post.url or (urls.post_url(author.username, post.id) if post.is_local else post.ap_id),
        "created_at": iso(post.published),
        "edited_at": iso(post.edited_at),
        "account": account(author, urls),
        "content": post.content_html,
        "visibility": visibility_out(post.visibility),
        "sensitive": post.sensitive,
        "spoiler_text": post.summary or "",
        "language": post.language,
        "media_attachments": [media_attachment(media, urls) for media in card.view.media],
        "mentions": [mention(actor, urls) for actor in card.view.mentions],
        "tags": [tag(name, urls) for name in card.view.tags],
        "emojis": custom_emojis(post.emojis, urls),
        "reblogs_count": card.boosts,
        "favourites_count": card.likes,
        "replies_count": card.replies,
        "quotes_count": 0,
        "in_reply_to_id": str(post.in_reply_to_id) if post.in_reply_to_id else None,
        "in_reply_to_account_id": (
            str(parent_account_ids[post.in_reply_to_id])
            if post.in_reply_to_id and parent_account_ids and post.in_reply_to_id in parent_account_ids
            else None
        ),
        "reblog": None,
        "application": None,
        "poll": None,
        "card": None,
        "filtered": [],
        "favourited": card.liked,
        "reblogged": card.boosted,
        "muted": False,
        "bookmarked": post.id in bookmarked_ids,
        "pinned": post.id in set(pinned),
        "reverie": reverie_block(card),
    }
    if card.booster is None:
        return inner
    return {
        **{key: value for key, value in inner.items() if key not in ("reverie",)},
        "id": str(card.entry_id),
        "uri": inner["uri"],
        "account": account(card.booster, urls),
        "content": "",
        "spoiler_text": "",
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "reblog": inner,
        "reverie": None,
    }


def relationship(
    target: Actor,
    *,
    following: bool = False,
    requested: bool = False,
    followed_by: bool = False,
    blocking: bool = False,
    blocked_by: bool = False,
    muting: bool = False,
    muting_notifications: bool = False,
    domain_blocking: bool = False,
    note: str = "",
) -> Json:
    """Mastodon's ``Relationship`` of the caller to ``target``."""
    return {
        "id": str(target.id),
        "following": following,
        "showing_reblogs": following,
        "notifying": False,
        "languages": None,
        "followed_by": followed_by,
        "blocking": blocking,
        "blocked_by": blocked_by,
        "muting": muting,
        "muting_notifications": muting_notifications,
        "requested": requested,
        "requested_by": False,
        "domain_blocking": domain_blocking,
        "endorsed": False,
        "note": note,
    }


def plain_post(post: Post) -> str:
    """The text a person typed (``source``/``text``), or the content when we only have HTML."""
    return post.source_text if post.source_text is not None else post.content_html

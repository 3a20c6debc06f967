"""Mastodon's entities, shaped from our rows (docs/client-api.md).

Plain functions from loaded rows to JSON-ready dicts; nothing here queries. The rules every entity follows,
because real clients crash without them: ids are strings, times are ISO 8601 in UTC with milliseconds,
lists are never null, an attachment always has a ``url``, and ``content`` is the same sanitised HTML our
pages show. Account ids are actor ids (local or remote alike), status ids are post ids (a boost's is its
``Announce`` id), attachment ids are media ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fediverse.core.urls import Urls
from fediverse.imaging import ImagingOptions
from fediverse.reads.cards import PostCard, QuoteCard, avatar_url, header_url, image_view
from fediverse.reads.filters import FilterMatch
from storage.models import (
    Actor,
    CustomFilter,
    FilterKeyword,
    FilterStatus,
    Marker,
    Media,
    Notification,
    NotificationType,
    Post,
    Visibility,
)

Json = dict[str, Any]

#: Shown for accounts without an avatar or header (clients need an image URL; Mastodon does the same).
DEFAULT_AVATAR_PATH = "/static/avatar.png"
DEFAULT_HEADER_PATH = "/static/header.png"
#: Our visibilities are Mastodon's, but for the name of followers-only.
_VISIBILITY_OUT = {Visibility.FOLLOWERS: "private"}
_VISIBILITY_IN = {"private": Visibility.FOLLOWERS}
#: The long side of the thumbnails the imaging pipeline makes (``preview_url``).
THUMBNAIL_SIDE = ImagingOptions().thumbnail_side


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


def partial_account(actor: Actor, urls: Urls) -> Json:
    """Mastodon 4.3's ``PartialAccountWithAvatar``: what a grouped notification's row of avatars needs."""
    full = account(actor, urls)
    return {name: full[name] for name in ("id", "acct", "locked", "bot", "url", "avatar", "avatar_static")}


def _size(width: int | None, height: int | None) -> Json:
    if not width or not height:
        return {}
    return {"width": width, "height": height, "size": f"{width}x{height}", "aspect": width / height}


def _preview_size(media: Media) -> tuple[int | None, int | None]:
    """The thumbnail's size: the display copy fitted into ``THUMBNAIL_SIDE`` (as the imaging pipeline
    makes it); a remote image's preview is the image itself."""
    width, height = media.width, media.height
    if not width or not height or not media.thumbnail_key or max(width, height) <= THUMBNAIL_SIDE:
        return width, height
    scale = THUMBNAIL_SIDE / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def media_attachment(media: Media, urls: Urls) -> Json:
    """Mastodon's ``MediaAttachment``: an image. ``url`` is the display copy (the file that federates),
    ``preview_url`` the thumbnail; ``meta.original`` and ``meta.small`` give their sizes, ``meta.focus``
    the focal point (-1..1, y up, as Mastodon's). ``url`` is null only while an image is still being
    processed (never for ours: uploads are processed before the answer)."""
    view = image_view(media, urls)
    original = _size(media.width, media.height)
    small = _size(*_preview_size(media))
    meta: Json = {"focus": {"x": media.focal_x, "y": media.focal_y}}
    if original:
        meta["original"] = original
    if small:
        meta["small"] = small
    return {
        "id": str(media.id),
        "type": "image",
        "url": view.url if view else None,
        "preview_url": view.thumbnail_url if view else None,
        "remote_url": media.remote_url,
        "preview_remote_url": None,
        "text_url": None,
        "meta": meta,
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


def reverie_block(card: PostCard) -> Json:
    """What only Reverie has: how the image was painted (prompt only when shown), mood, remix source; what
    the viewer may do under the post's interaction policy, and a reply's standing with the author it answers
    (decision 0063)."""
    post = card.post
    generation = card.generation
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
        "interaction_policy": {
            "can_reply": card.permissions.reply.permission.value,
            "can_reblog": card.permissions.boost.permission.value,
            "can_favourite": card.permissions.like.permission.value,
        },
        "approval": post.approval or ("approved" if post.approved_by else None),
    }


def status(
    card: PostCard,
    urls: Urls,
    *,
    parent_account_ids: Mapping[int, int] | None = None,
    bookmarked: Iterable[int] = (),
    pinned: Iterable[int] = (),
    filtered: Sequence[Json] = (),
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
        "quotes_count": card.quotes,
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
        "filtered": list(filtered),
        "favourited": card.liked,
        "reblogged": card.boosted,
        "muted": False,
        "bookmarked": post.id in bookmarked_ids,
        "pinned": post.id in set(pinned),
        "quote": quote(card.quote, urls),
        "quote_approval": quote_approval(post),
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


def quote(card: QuoteCard | None, urls: Urls) -> Json | None:
    """Mastodon 4.5's ``Quote``: the state, and the quoted status when the caller may see it (decision 0064)."""
    if card is None:
        return None
    return {"state": card.state, "quoted_status": status(card.quoted, urls) if card.quoted else None}


def quote_approval(post: Post) -> Json:
    """Mastodon 4.5's ``QuoteApproval`` for our posts' policy (``federation.quote_policy``): public and unlisted
    posts may be quoted by anyone, automatically; others by nobody but their author. A remote post's policy
    is its server's to apply: ``unknown`` here."""
    if not post.is_local:
        return {"automatic": [], "manual": [], "current_user": "unknown"}
    if post.visibility in (Visibility.PUBLIC, Visibility.UNLISTED):
        return {"automatic": ["public"], "manual": [], "current_user": "automatic"}
    return {"automatic": [], "manual": [], "current_user": "denied"}


def relationship(
    target: Actor,
    *,
    following: bool = False,
    requested: bool = False,
    requested_by: bool = False,
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
        "requested_by": requested_by,
        "domain_blocking": domain_blocking,
        "endorsed": False,
        "note": note,
    }


def plain_post(post: Post) -> str:
    """The text a person typed (``source``/``text``), or the content when we only have HTML."""
    return post.source_text if post.source_text is not None else post.content_html


def status_edit(
    author: Actor,
    urls: Urls,
    *,
    content: str,
    spoiler_text: str | None,
    sensitive: bool,
    created_at: datetime | None,
    media: Iterable[tuple[Media, str]],
) -> Json:
    """Mastodon's ``StatusEdit``: one version of a post; ``media`` are its attachments with the alt text
    they had then."""
    return {
        "content": content,
        "spoiler_text": spoiler_text or "",
        "sensitive": sensitive,
        "created_at": iso(created_at),
        "account": account(author, urls),
        "media_attachments": [
            {**media_attachment(item, urls), "description": description or None} for item, description in media
        ],
        "emojis": [],
    }


#: Our notification types as Mastodon's: a reply is a mention there, a remix (a new post from someone,
#: about one of yours) is closest to ``status`` (the ``reverie`` object tells it apart).
NOTIFICATION_TYPES: Mapping[str, str] = {
    NotificationType.FOLLOW: "follow",
    NotificationType.FOLLOW_REQUEST: "follow_request",
    NotificationType.LIKE: "favourite",
    NotificationType.ANNOUNCE: "reblog",
    NotificationType.REPLY: "mention",
    NotificationType.MENTION: "mention",
    NotificationType.REMIX: "status",
    NotificationType.MOVE: "move",  # Pleroma's and Akkoma's type, which Mastodon's clients know (decision 0061)
    NotificationType.QUOTE: "quote",  # Mastodon 4.5: the status is the quoting post
    NotificationType.QUOTED_UPDATE: "quoted_update",  # Mastodon 4.5: the status is the edited, quoted post
}
#: Mastodon's types that carry a ``status``.
STATUS_NOTIFICATION_TYPES = frozenset(
    {"mention", "status", "reblog", "favourite", "update", "poll", "quote", "quoted_update"}
)


#: Mastodon's types that it groups (``Notification::Groups``): a favourite or a boost per status, a follow
#: per account; everything else is its own group.
GROUPABLE_NOTIFICATION_TYPES = frozenset({"favourite", "reblog", "follow"})


def notification_type(row: Notification) -> str:
    """Mastodon's name for the notification's type."""
    return NOTIFICATION_TYPES.get(row.type, row.type)


def group_key(row: Notification) -> str:
    """The notification's group: ``favourite-<status id>-<day>``, ``reblog-<status id>-<day>`` or
    ``follow-<day>`` (the UTC day, counted from 1970) for the types Mastodon groups, else
    ``ungrouped-<id>``, the key Mastodon documents for a notification in a group of its own. Mastodon
    buckets by hour with a 12-hour span kept in Redis; a calendar day needs nothing stored."""
    kind = notification_type(row)
    if kind not in GROUPABLE_NOTIFICATION_TYPES or row.created_at is None:
        return f"ungrouped-{row.id}"
    moment = row.created_at if row.created_at.tzinfo is not None else row.created_at.replace(tzinfo=UTC)
    bucket = (moment.astimezone(UTC).date() - _EPOCH_DAY).days
    target = f"-{row.post_id}" if kind != "follow" else ""
    return f"{kind}{target}-{bucket}"


_EPOCH_DAY = datetime(1970, 1, 1, tzinfo=UTC).date()


def notification(row: Notification, actor: Actor, post_status: Json | None, urls: Urls) -> Json:
    """Mastodon's ``Notification`` — the one shape for the list, one notification and the streaming API;
    ``post_status`` is the rendered status for the types that have one."""
    kind = notification_type(row)
    document: Json = {
        "id": str(row.id),
        "type": kind,
        "created_at": iso(row.created_at),
        "group_key": group_key(row),
        "account": account(actor, urls),
    }
    if kind in STATUS_NOTIFICATION_TYPES:
        document["status"] = post_status
    if row.type == NotificationType.REMIX:
        document["reverie"] = {"type": "remix"}
    return document


def marker(row: Marker) -> Json:
    """Mastodon's ``Marker``."""
    return {"last_read_id": row.last_read_id, "version": row.version, "updated_at": iso(row.updated_at)}


def role(is_admin: bool) -> Json:
    """Mastodon's ``Role`` of a local account: ``Admin`` (all permissions) or the unnamed everyone role."""
    if is_admin:
        return {"id": "3", "name": "Admin", "color": "", "permissions": "1", "highlighted": True}
    return {"id": "-99", "name": "", "color": "", "permissions": "0", "highlighted": False}


def credential_account(actor: Actor, is_admin: bool, urls: Urls, *, note: str, follow_requests_count: int) -> Json:
    """Mastodon's ``CredentialAccount``: the caller's own ``Account`` with ``source`` (the bio as typed,
    posting defaults) and ``role``. ``note`` is the bio as plain text."""
    return {
        **account(actor, urls),
        "source": {
            "privacy": "public",
            "sensitive": False,
            "language": "",
            "note": note,
            "fields": [],
            "follow_requests_count": follow_requests_count,
            "hide_collections": False,
            "discoverable": actor.discoverable,
            "indexable": actor.indexable,
            "attribution_domains": [],
        },
        "role": role(is_admin),
    }


def hashtag(name: str, urls: Urls, *, following: bool | None = None) -> Json:
    """Mastodon's ``Tag`` as search and tag endpoints return it (no usage history is kept)."""
    found: Json = {"name": name, "url": urls.tag_url(name), "history": []}
    if following is not None:
        found["following"] = following
    return found


def filter_keyword(keyword: FilterKeyword) -> Json:
    return {"id": str(keyword.id), "keyword": keyword.keyword, "whole_word": keyword.whole_word}


def filter_status(chosen: FilterStatus) -> Json:
    return {"id": str(chosen.id), "status_id": str(chosen.post_id)}


def custom_filter(
    row: CustomFilter, keywords: Sequence[FilterKeyword] | None, statuses: Sequence[FilterStatus] | None
) -> Json:
    """Mastodon's ``Filter`` (v2); in a ``FilterResult`` (``keywords`` and ``statuses`` None) it has
    neither, as Mastodon leaves them out there."""
    document: Json = {
        "id": str(row.id),
        "title": row.title,
        "context": list(row.context),
        "expires_at": iso(row.expires_at),
        "filter_action": row.action,
    }
    if keywords is not None:
        document["keywords"] = [filter_keyword(item) for item in keywords]
    if statuses is not None:
        document["statuses"] = [filter_status(item) for item in statuses]
    return document


def filter_result(match: FilterMatch) -> Json:
    """Mastodon's ``FilterResult``."""
    return {
        "filter": custom_filter(match.active.row, None, None),
        "keyword_matches": match.keyword_matches,
        "status_matches": None if match.status_matches is None else [str(item) for item in match.status_matches],
    }


def v1_filter(keyword: FilterKeyword, row: CustomFilter) -> Json:
    """Mastodon's ``V1::Filter``: one keyword seen as a filter (``irreversible`` is the ``hide`` action)."""
    return {
        "id": str(keyword.id),
        "phrase": keyword.keyword,
        "context": list(row.context),
        "whole_word": keyword.whole_word,
        "expires_at": iso(row.expires_at),
        "irreversible": row.action == "hide",
    }

"""Mastodon's documented entities, as the keys each must carry (docs.joinmastodon.org/entities), and one
assertion that an answer has them. Optional attributes Mastodon leaves out (``moved``, ``suspended``,
``limited``) are not listed; attributes that are lists must be lists, never null."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

ACCOUNT_KEYS = frozenset(
    {
        "id",
        "username",
        "acct",
        "url",
        "uri",
        "display_name",
        "note",
        "avatar",
        "avatar_static",
        "header",
        "header_static",
        "locked",
        "fields",
        "emojis",
        "bot",
        "group",
        "discoverable",
        "indexable",
        "hide_collections",
        "noindex",
        "created_at",
        "last_status_at",
        "statuses_count",
        "followers_count",
        "following_count",
        "roles",
    }
)
CREDENTIAL_ACCOUNT_KEYS = ACCOUNT_KEYS | {"source", "role"}
SOURCE_KEYS = frozenset({"privacy", "sensitive", "language", "note", "fields", "follow_requests_count"})
ROLE_KEYS = frozenset({"id", "name", "color", "permissions", "highlighted"})
MUTED_ACCOUNT_KEYS = ACCOUNT_KEYS | {"mute_expires_at"}
RELATIONSHIP_KEYS = frozenset(
    {
        "id",
        "following",
        "showing_reblogs",
        "notifying",
        "languages",
        "followed_by",
        "blocking",
        "blocked_by",
        "muting",
        "muting_notifications",
        "requested",
        "requested_by",
        "domain_blocking",
        "endorsed",
        "note",
    }
)
FAMILIAR_FOLLOWERS_KEYS = frozenset({"id", "accounts"})
STATUS_KEYS = frozenset(
    {
        "id",
        "uri",
        "url",
        "created_at",
        "edited_at",
        "account",
        "content",
        "visibility",
        "sensitive",
        "spoiler_text",
        "media_attachments",
        "application",
        "mentions",
        "tags",
        "emojis",
        "reblogs_count",
        "favourites_count",
        "replies_count",
        "in_reply_to_id",
        "in_reply_to_account_id",
        "reblog",
        "poll",
        "card",
        "language",
        "favourited",
        "reblogged",
        "muted",
        "bookmarked",
        "pinned",
        "filtered",
    }
)
TAG_KEYS = frozenset({"name", "url", "history"})
SEARCH_KEYS = frozenset({"accounts", "statuses", "hashtags"})
PREFERENCES_KEYS = frozenset(
    {
        "posting:default:visibility",
        "posting:default:sensitive",
        "posting:default:language",
        "reading:expand:media",
        "reading:expand:spoilers",
    }
)

# Instance (v2, GET /api/v2/instance) and its parts.
INSTANCE_V2_KEYS = frozenset(
    {
        "domain",
        "title",
        "version",
        "source_url",
        "description",
        "usage",
        "thumbnail",
        "icon",
        "languages",
        "configuration",
        "registrations",
        "api_versions",
        "contact",
        "rules",
    }
)
INSTANCE_V2_CONFIGURATION_KEYS = frozenset(
    {"urls", "vapid", "accounts", "statuses", "media_attachments", "polls", "translation"}
)
STATUSES_CONFIGURATION_KEYS = frozenset({"max_characters", "max_media_attachments", "characters_reserved_per_url"})
MEDIA_CONFIGURATION_KEYS = frozenset(
    {
        "supported_mime_types",
        "image_size_limit",
        "image_matrix_limit",
        "video_size_limit",
        "video_frame_rate_limit",
        "video_matrix_limit",
    }
)
POLLS_CONFIGURATION_KEYS = frozenset({"max_options", "max_characters_per_option", "min_expiration", "max_expiration"})
REGISTRATIONS_KEYS = frozenset({"enabled", "approval_required", "message"})
CONTACT_KEYS = frozenset({"email", "account"})
# Instance (v1, GET /api/v1/instance).
INSTANCE_V1_KEYS = frozenset(
    {
        "uri",
        "title",
        "short_description",
        "description",
        "email",
        "version",
        "urls",
        "stats",
        "thumbnail",
        "languages",
        "registrations",
        "approval_required",
        "invites_enabled",
        "configuration",
        "contact_account",
        "rules",
    }
)
INSTANCE_V1_CONFIGURATION_KEYS = frozenset({"statuses", "media_attachments", "polls"})
STATS_KEYS = frozenset({"user_count", "status_count", "domain_count"})

#: Attributes that are lists wherever they appear: never null, or clients crash.
LIST_ATTRIBUTES = frozenset({"emojis", "fields", "media_attachments", "mentions", "tags", "rules"})


def assert_shape(entity: Any, keys: Iterable[str], *, lists: Iterable[str] | None = None) -> None:
    """``entity`` is a JSON object with every one of ``keys``, and its list attributes (``lists``; by
    default those of ``LIST_ATTRIBUTES`` it has) are lists."""
    assert isinstance(entity, dict), f"expected an object, got {type(entity).__name__}: {entity!r}"
    missing = set(keys) - set(entity)
    assert not missing, f"missing {sorted(missing)} in {sorted(entity)}"
    for name in LIST_ATTRIBUTES & set(entity) if lists is None else lists:
        assert isinstance(entity[name], list), f"{name} must be a list, got {entity[name]!r}"


def assert_account(entity: Any) -> None:
    """An ``Account``: the keys, string id, and the types clients rely on."""
    assert_shape(entity, ACCOUNT_KEYS)
    assert isinstance(entity["id"], str) and entity["id"].isdigit()
    for name in ("avatar", "avatar_static", "header", "header_static", "url"):
        assert isinstance(entity[name], str) and entity[name].startswith("http"), (name, entity[name])
    for name in ("statuses_count", "followers_count", "following_count"):
        assert isinstance(entity[name], int), (name, entity[name])
    for name in ("locked", "bot", "group"):
        assert isinstance(entity[name], bool), (name, entity[name])

"""The activities our actors send, shaped as Mastodon sends them (``app/serializers/activitypub/*``).

Each builder returns a complete document with ``@context``; the caller stores it as an
``OutboxActivity`` (so it is dereferenceable at its id) and queues its deliveries.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from activitypub.vocab import PUBLIC, JsonObject, with_context
from fediverse.core.urls import Urls
from fediverse.federation.documents import format_datetime


def new_activity_id(urls: Urls, username: str) -> str:
    return urls.activity_id(username, secrets.token_hex(12))


def follow_activity(activity_id: str, actor_id: str, followee_id: str) -> JsonObject:
    return with_context({"id": activity_id, "type": "Follow", "actor": actor_id, "object": followee_id})


def accept_follow_activity(activity_id: str, actor_id: str, follow: JsonObject) -> JsonObject:
    """Accept a Follow, embedding the original (Mastodon matches it by id or by its actor)."""
    return with_context(
        {"id": activity_id, "type": "Accept", "actor": actor_id, "object": _embedded(follow), "to": [follow["actor"]]}
    )


def reject_follow_activity(activity_id: str, actor_id: str, follow: JsonObject) -> JsonObject:
    return with_context(
        {"id": activity_id, "type": "Reject", "actor": actor_id, "object": _embedded(follow), "to": [follow["actor"]]}
    )


def undo_activity(activity_id: str, actor_id: str, undone: JsonObject, to: list[str]) -> JsonObject:
    """Undo an earlier activity, embedding it with its id (Mastodon looks the original up by it)."""
    return with_context({"id": activity_id, "type": "Undo", "actor": actor_id, "object": _embedded(undone), "to": to})


def like_activity(activity_id: str, actor_id: str, object_id: str) -> JsonObject:
    return with_context({"id": activity_id, "type": "Like", "actor": actor_id, "object": object_id})


def announce_activity(
    activity_id: str, actor_id: str, object_id: str, *, author_id: str, followers_url: str, published: datetime
) -> JsonObject:
    """A public boost: to Public, cc the booster's followers and the original author."""
    return with_context(
        {
            "id": activity_id,
            "type": "Announce",
            "actor": actor_id,
            "published": format_datetime(published),
            "to": [PUBLIC],
            "cc": [author_id, followers_url],
            "object": object_id,
        }
    )


def delete_note_activity(actor_id: str, note_id: str, to: list[str], cc: list[str]) -> JsonObject:
    """``Delete`` with a ``Tombstone``; the id is the note id plus ``#delete`` (Mastodon's shape)."""
    return with_context(
        {
            "id": f"{note_id}#delete",
            "type": "Delete",
            "actor": actor_id,
            "to": to,
            "cc": cc,
            "object": {"id": note_id, "type": "Tombstone"},
        }
    )


def delete_actor_activity(actor_id: str) -> JsonObject:
    return with_context(
        {"id": f"{actor_id}#delete", "type": "Delete", "actor": actor_id, "to": [PUBLIC], "object": actor_id}
    )


def update_activity(activity_id: str, actor_id: str, obj: JsonObject, to: list[str], cc: list[str]) -> JsonObject:
    """``Update`` of a Note (which must carry ``updated``) or of the actor itself."""
    return with_context(
        {"id": activity_id, "type": "Update", "actor": actor_id, "to": to, "cc": cc, "object": _embedded(obj)}
    )


def add_activity(activity_id: str, actor_id: str, object_id: str, target: str) -> JsonObject:
    """``Add`` a post to a collection of ours: a pin, ``target`` being the actor's ``featured`` (Mastodon's
    ``AddSerializer``: the object by its id, no addressing)."""
    return with_context({"id": activity_id, "type": "Add", "actor": actor_id, "object": object_id, "target": target})


def remove_activity(activity_id: str, actor_id: str, object_id: str, target: str) -> JsonObject:
    """``Remove`` a post from a collection of ours: an unpin (Mastodon's ``RemoveSerializer``)."""
    return with_context({"id": activity_id, "type": "Remove", "actor": actor_id, "object": object_id, "target": target})


def block_activity(activity_id: str, actor_id: str, blocked_id: str) -> JsonObject:
    return with_context({"id": activity_id, "type": "Block", "actor": actor_id, "object": blocked_id})


def move_activity(activity_id: str, actor_id: str, target_id: str, followers_url: str | None) -> JsonObject:
    """FEP-7628 / Mastodon's ``Move``: ``actor`` and ``object`` are the old account, ``target`` the new one
    (which lists the old one in ``alsoKnownAs``); addressed to the old account's followers."""
    document: JsonObject = {
        "id": activity_id,
        "type": "Move",
        "actor": actor_id,
        "object": actor_id,
        "target": target_id,
    }
    if followers_url:
        document["to"] = [followers_url]
    return with_context(document)


def flag_activity(activity_id: str, instance_actor_id: str, target_ids: list[str], comment: str) -> JsonObject:
    """A report, sent by the instance actor so the reporter stays anonymous (as Mastodon does)."""
    return with_context(
        {"id": activity_id, "type": "Flag", "actor": instance_actor_id, "object": target_ids, "content": comment}
    )


def _embedded(document: JsonObject) -> JsonObject:
    return {key: value for key, value in document.items() if key != "@context"}

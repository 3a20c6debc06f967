"""Rows -> ActivityStreams documents: the shapes peers see (GoToSocial's ``internaltoas`` direction).

Shapes follow what Mastodon emits (``app/serializers/activitypub/*``) so every fediverse server reads
them (docs/federation.md lists what we send and accept, by server).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from activitypub.vocab import JsonObject, with_context
from fediverse.core.urls import Urls
from storage.media import mime_of_key
from storage.models import Actor, Media

#: FEP-844e: what we implement that a peer cannot tell from our documents. RFC 9421 signatures are verified
#: on every inbox and signed fetch (RSA keys; tootik and Mitra switch to them once they see this). Ed25519
#: is not listed: we verify it, but read no Ed25519 key from actor documents (FEP-521a) yet.
IMPLEMENTS: tuple[JsonObject, ...] = (
    {"href": "https://datatracker.ietf.org/doc/html/rfc9421", "name": "RFC-9421: HTTP Message Signatures"},
)


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, second precision, as Mastodon writes ``published``."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_datetime_ms(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` and milliseconds, for ``updated``: Mastodon applies an ``Update`` only
    when its ``updated`` is later than the last one it saw, so two edits in one second need the fraction."""
    moment = value.astimezone(UTC) if value.tzinfo else value
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def next_edit_time(previous: datetime | None, now: datetime) -> datetime:
    """When an edit happens: ``now``, but always at least a millisecond (the precision of ``updated`` on the
    wire) after the previous edit or publication, so ``updated`` strictly increases even within one
    millisecond or when the clock steps back."""
    if previous is None:
        return now
    floor = previous.replace(microsecond=previous.microsecond // 1000 * 1000) + timedelta(milliseconds=1)
    return max(now, floor)


def image_document(media: Media, urls: Urls) -> JsonObject | None:
    """An ``Image`` for an actor's ``icon``/``image`` (Mastodon's ImageSerializer shape)."""
    if media.display_key is None:
        return None
    return {"type": "Image", "mediaType": mime_of_key(media.display_key), "url": urls.media_url(media.display_key)}


class ActorFields(Protocol):
    """What an actor document reads of a local actor: an ``Actor`` row, or the typed
    ``fediverse.core.accounts.LocalActor`` a unit of work selects (decision 0049)."""

    @property
    def ap_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def summary_html(self) -> str: ...
    @property
    def manually_approves_followers(self) -> bool: ...
    @property
    def discoverable(self) -> bool: ...
    @property
    def indexable(self) -> bool: ...
    @property
    def published(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def public_key_id(self) -> str | None: ...
    @property
    def public_key_pem(self) -> str | None: ...
    @property
    def also_known_as(self) -> list[str] | None: ...
    @property
    def moved_to_ap_id(self) -> str | None: ...


class AccountFields(Protocol):
    @property
    def username(self) -> str: ...


@dataclass(frozen=True)
class ActorImages:
    icon: Media | None = None
    header: Media | None = None


def actor_document(
    actor: ActorFields, account: AccountFields, urls: Urls, images: ActorImages = ActorImages()
) -> JsonObject:
    """The ``Person`` document of a local account (served at ``actor.ap_id``)."""
    username = account.username
    document: JsonObject = {
        "id": actor.ap_id,
        "type": actor.type,
        "preferredUsername": username,
        "webfinger": f"{username}@{urls.host}",  # FEP-2c59, in its preferred plain form
        "name": actor.display_name or username,
        "summary": actor.summary_html,
        "url": urls.profile_url(username),
        "inbox": urls.inbox_url(username),
        "outbox": urls.outbox_url(username),
        "followers": urls.followers_url(username),
        "following": urls.following_url(username),
        "featured": urls.featured_url(username),
        "featuredTags": urls.featured_tags_url(username),
        "endpoints": {"sharedInbox": urls.shared_inbox_url()},
        "manuallyApprovesFollowers": actor.manually_approves_followers,
        "discoverable": actor.discoverable,
        "indexable": actor.indexable,
        "published": format_datetime(actor.published or actor.created_at),
        "publicKey": public_key_document(actor),
        "attachment": [],
        "tag": [],
        # FEP-844e "discovery through an actor": an anonymous Application with what the server implements
        "generator": {"type": "Application", "implements": [dict(item) for item in IMPLEMENTS]},
    }
    if actor.also_known_as:  # FEP-7628: the accounts this one moved from (what a Move to it is checked against)
        document["alsoKnownAs"] = list(actor.also_known_as)
    if actor.moved_to_ap_id:  # FEP-7628: where this account lives now
        document["movedTo"] = actor.moved_to_ap_id
    if images.icon is not None and (icon := image_document(images.icon, urls)):
        document["icon"] = icon
    if images.header is not None and (header := image_document(images.header, urls)):
        document["image"] = header
    return with_context(document)


#: What an actor document keeps for an unsigned reader under authorized fetch: enough to find the inbox
#: and check our signatures (Mastodon's "barebones" actor), none of the profile.
BAREBONES_ACTOR_KEYS = frozenset(
    {"@context", "id", "type", "preferredUsername", "webfinger", "url", "inbox", "outbox", "followers",
     "following", "featured", "featuredTags", "endpoints", "manuallyApprovesFollowers", "publicKey"}
)  # fmt: skip


def barebones_actor_document(document: JsonObject) -> JsonObject:
    return {key: value for key, value in document.items() if key in BAREBONES_ACTOR_KEYS}


def instance_actor_document(actor: Actor, urls: Urls) -> JsonObject:
    """The instance actor: an ``Application`` whose key signs our server-level fetches."""
    return with_context(
        {
            "id": actor.ap_id,
            "type": "Application",
            "preferredUsername": actor.username,
            "webfinger": f"{actor.username}@{urls.host}",  # FEP-2c59; WebFinger answers it (and FEP-d556's origin)
            "name": actor.username,
            "url": actor.url,
            "inbox": actor.inbox_url,
            "outbox": actor.outbox_url,
            "endpoints": {"sharedInbox": urls.shared_inbox_url()},
            "manuallyApprovesFollowers": True,
            "published": format_datetime(actor.published or actor.created_at),
            "publicKey": public_key_document(actor),
            "implements": [dict(item) for item in IMPLEMENTS],  # FEP-844e
        }
    )


def public_key_document(actor: ActorFields) -> JsonObject:
    return {"id": actor.public_key_id, "owner": actor.ap_id, "publicKeyPem": actor.public_key_pem}


def tombstone_document(object_id: str, former_type: str, deleted: datetime | None) -> JsonObject:
    """What a deleted object's id answers (with ``410 Gone``): AS2 Core §6 ``Tombstone``."""
    document: JsonObject = {"id": object_id, "type": "Tombstone", "formerType": former_type}
    if deleted is not None:
        document["deleted"] = format_datetime(deleted)
    return with_context(document)


def collection_page(
    page_id: str, collection_id: str, items: Sequence[Any], *, next_page_id: str | None = None
) -> JsonObject:
    """An unordered ``CollectionPage`` (without ``@context``), as Mastodon pages a note's replies."""
    document: JsonObject = {"id": page_id, "type": "CollectionPage", "partOf": collection_id, "items": list(items)}
    if next_page_id:
        document["next"] = next_page_id
    return document


def ordered_collection(collection_id: str, total_items: int, first_page_id: str) -> JsonObject:
    """An ``OrderedCollection`` that states its size and links its first page (AS2 Core §5.3)."""
    return with_context(
        {"id": collection_id, "type": "OrderedCollection", "totalItems": total_items, "first": first_page_id}
    )


def ordered_collection_items(collection_id: str, items: Sequence[Any]) -> JsonObject:
    """A small ``OrderedCollection`` with its items inline and no pages (Mastodon's ``featured``)."""
    return with_context(
        {"id": collection_id, "type": "OrderedCollection", "totalItems": len(items), "orderedItems": list(items)}
    )


def ordered_collection_page(
    page_id: str,
    collection_id: str,
    items: Sequence[Any],
    *,
    total_items: int,
    next_page_id: str | None = None,
    prev_page_id: str | None = None,
) -> JsonObject:
    """One ``OrderedCollectionPage``; ``next``/``prev`` only when they exist."""
    document: JsonObject = {
        "id": page_id,
        "type": "OrderedCollectionPage",
        "partOf": collection_id,
        "totalItems": total_items,
        "orderedItems": list(items),
    }
    if next_page_id:
        document["next"] = next_page_id
    if prev_page_id:
        document["prev"] = prev_page_id
    return with_context(document)

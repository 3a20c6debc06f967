"""Tables. Every actor we know (local or remote) is an ``Actor``; local users add an ``Account``.

Work rows (``InboxItem``, ``Delivery``, ``GenerationJob``, ``RemoteFetch``) carry ``state``, ``attempts``,
``next_attempt_at`` and ``locked_until`` so that a crashed worker's claims expire and another process
picks them up (see ``storage.claims``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlmodel import Field, SQLModel

from storage.types import BigIntId, JsonDocument, UTCDateTime, new_snowflake, utcnow


class Visibility(StrEnum):
    PUBLIC = "public"
    UNLISTED = "unlisted"
    FOLLOWERS = "followers"
    DIRECT = "direct"


class Approval(StrEnum):
    """A local account's reply, like or boost that a remote post's ``interactionPolicy`` makes wait for its
    author (GoToSocial's approval flow): sent only to the author until an ``Accept`` comes (then the row's
    ``approval`` is cleared and ``approved_by`` names the approval) or a ``Reject``."""

    PENDING = "pending"
    REJECTED = "rejected"


class FollowState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"


class WorkState(StrEnum):
    """States of inbox items and deliveries."""

    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"  # given up after retries, or rejected for good
    GONE = "gone"  # the recipient answered 410


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class NotificationType(StrEnum):
    FOLLOW = "follow"
    FOLLOW_REQUEST = "follow_request"
    LIKE = "like"
    ANNOUNCE = "announce"
    REPLY = "reply"
    MENTION = "mention"
    REMIX = "remix"
    MOVE = "move"  # an account the recipient followed moved; the follow moved with it (decision 0061)
    QUOTE = "quote"  # someone quoted the recipient's post (the quoting post; Mastodon 4.5, decision 0064)
    QUOTED_UPDATE = "quoted_update"  # a post the recipient quoted was edited (the edited post; Mastodon 4.5)


class MediaState(StrEnum):
    DRAFT = "draft"  # generated or uploaded, not yet part of a post
    ATTACHED = "attached"
    REMOTE = "remote"  # a remote post's attachment, a remote actor's avatar or header: cached here for a while


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _text(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(Text, nullable=nullable))


def _json() -> Any:
    return Field(default=None, sa_type=JsonDocument, nullable=True)


def _counter() -> Any:
    """A count of rows elsewhere, kept by database triggers in the same transaction as the rows it counts
    (migration 0007, decision 0052): pages read it instead of running ``COUNT(*)``."""
    return Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})


class Actor(SQLModel, table=True):
    """An ActivityPub actor, local or remote. Remote rows are a cache of the fetched document."""

    __tablename__ = "actors"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    ap_id: str = Field(unique=True, max_length=2048)
    type: str = Field(default="Person", max_length=32)
    username: str = Field(max_length=2048, index=True)
    domain: str = Field(max_length=255, index=True)
    is_local: bool = Field(default=False, index=True)
    display_name: str = Field(default="", max_length=2048)
    summary_html: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    url: str | None = Field(default=None, max_length=2048)
    inbox_url: str = Field(max_length=2048)
    shared_inbox_url: str | None = Field(default=None, max_length=2048)
    outbox_url: str | None = Field(default=None, max_length=2048)
    followers_url: str | None = Field(default=None, max_length=2048)
    following_url: str | None = Field(default=None, max_length=2048)
    public_key_id: str | None = Field(default=None, max_length=2048, index=True)
    public_key_pem: str | None = _text()
    icon_url: str | None = Field(default=None, max_length=2048)
    header_url: str | None = Field(default=None, max_length=2048)
    #: A remote actor's avatar and header as ``Media`` rows (``REMOTE``), cached on our origin like
    #: attachments (decision 0059); a local account's are on its ``Account``. No foreign keys, as there.
    avatar_media_id: int | None = Field(default=None, index=True, sa_type=BigIntId)
    header_media_id: int | None = Field(default=None, index=True, sa_type=BigIntId)
    #: The custom emoji its name and bio may show, by shortcode: ``{"blobcat": media_id}`` (from its
    #: document's ``Emoji`` tags; decision 0059).
    emojis: dict[str, Any] | None = _json()
    manually_approves_followers: bool = False
    discoverable: bool = False
    indexable: bool = False
    published: datetime | None = _ts()
    raw: dict[str, Any] | None = _json()
    fetched_at: datetime | None = _ts()
    gone_at: datetime | None = _ts()
    created_at: datetime = _created()
    updated_at: datetime = _created()
    # Moving accounts (FEP-7628, decision 0061): the actor ids this actor says it also is (``alsoKnownAs``;
    # for a local account, the aliases its owner added), the account it moved to (``movedTo``), and when a
    # move took effect here (ours: when we moved; a remote one: when we applied its ``Move``).
    also_known_as: list[str] | None = _json()
    moved_to_ap_id: str | None = Field(default=None, max_length=2048)
    moved_at: datetime | None = _ts()
    # What we store of the actor, local or remote (a remote server's own totals are not fetched):
    posts_count: int = _counter()  # its posts not deleted, public or unlisted (what its outbox lists)
    followers_count: int = _counter()  # accepted follows of it
    following_count: int = _counter()  # its accepted follows of others


class Account(SQLModel, table=True):
    """A local user. Their public face is the ``Actor`` row ``actor_id``."""

    __tablename__ = "accounts"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    username: str = Field(unique=True, max_length=30)
    actor_id: int = Field(foreign_key="actors.id", unique=True, sa_type=BigIntId)
    password_hash: str | None = Field(default=None, max_length=255)
    is_admin: bool = False
    # No foreign keys here: media rows reference accounts, and SQLite cannot add a constraint later.
    avatar_media_id: int | None = Field(default=None, sa_type=BigIntId)
    header_media_id: int | None = Field(default=None, sa_type=BigIntId)
    created_at: datetime = _created()
    last_active_at: datetime | None = _ts()
    #: Set: the account cannot sign in and its actor answers 410 (suspended by an admin, or deleted).
    disabled_at: datetime | None = _ts()
    #: Set: deleted for good (``disabled_at`` too). The row stays so the username is never given again.
    deleted_at: datetime | None = _ts()


class Keypair(SQLModel, table=True):
    """The signing key of a local actor (users and the instance actor). Never served."""

    __tablename__ = "keypairs"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    actor_id: int = Field(foreign_key="actors.id", index=True, sa_type=BigIntId)
    key_id: str = Field(unique=True, max_length=2048)
    private_key_pem: str = Field(sa_column=Column(Text, nullable=False))
    public_key_pem: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _created()


class InstanceSetting(SQLModel, table=True):
    """Admin-editable settings (instance name, description, registration mode)."""

    __tablename__ = "instance_settings"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))


class CacheStamp(SQLModel, table=True):
    """A version per cached idea (``storage.cache``): bumped in the transaction that changes what the
    caches of that name hold, read by every process about once a second."""

    __tablename__ = "cache_stamps"

    name: str = Field(primary_key=True, max_length=32)
    version: int = Field(default=0, sa_type=BigInteger)


class Media(SQLModel, table=True):
    """One image: a local file set in the media store, or a remote attachment we only describe."""

    __tablename__ = "media"
    #: Housekeeping finds expired drafts by state and age; ``GET /media/{key}`` and the sweep find rows by
    #: file key (the ``*_key`` indexes).
    __table_args__ = (
        Index("ix_media_state_created_at", "state", "created_at"),
        Index("ix_media_state_cached_at", "state", "cached_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    owner_account_id: int | None = Field(default=None, foreign_key="accounts.id", index=True, sa_type=BigIntId)
    state: str = Field(default=MediaState.DRAFT, max_length=16)
    sha256: str | None = Field(default=None, max_length=64, index=True)
    mime: str = Field(max_length=127)
    width: int | None = None
    height: int | None = None
    size_bytes: int | None = None
    original_key: str | None = Field(default=None, max_length=255, index=True)
    display_key: str | None = Field(default=None, max_length=255, index=True)
    thumbnail_key: str | None = Field(default=None, max_length=255, index=True)
    remote_url: str | None = Field(default=None, max_length=2048)
    blurhash: str | None = Field(default=None, max_length=164)
    alt_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    focal_x: float = 0.0
    focal_y: float = 0.0
    digital_source_type: str | None = Field(default=None, max_length=255)
    generation: dict[str, Any] | None = _json()
    job_id: int | None = Field(default=None, foreign_key="generation_jobs.id", index=True, sa_type=BigIntId)
    created_at: datetime = _created()
    #: A remote file (``REMOTE``): when its copies were stored here (``None`` while not cached, or after
    #: housekeeping pruned them), and why fetching it was given up for good (``None`` while it may be
    #: fetched). Decision 0059.
    cached_at: datetime | None = _ts()
    fetch_error: str | None = Field(default=None, max_length=64)


class Post(SQLModel, table=True):
    """A Note, local or remote. Ids are time-ordered snowflakes so feeds page by id."""

    __tablename__ = "posts"
    __table_args__ = (Index("ix_posts_author_id_id", "author_id", "id"),)

    id: int = Field(default_factory=new_snowflake, primary_key=True, sa_type=BigIntId)
    ap_id: str = Field(unique=True, max_length=2048)
    url: str | None = Field(default=None, max_length=2048)
    author_id: int = Field(foreign_key="actors.id", sa_type=BigIntId)
    is_local: bool = Field(default=False, index=True)
    visibility: str = Field(default=Visibility.PUBLIC, max_length=16)
    content_html: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    source_text: str | None = _text()
    summary: str | None = _text()  # content warning
    sensitive: bool = False
    language: str | None = Field(default=None, max_length=16)
    in_reply_to_ap_id: str | None = Field(default=None, max_length=2048, index=True)
    in_reply_to_id: int | None = Field(default=None, foreign_key="posts.id", index=True, sa_type=BigIntId)
    mood_emoji: str | None = Field(default=None, max_length=32)
    mood_word: str | None = Field(default=None, max_length=64)
    generation: dict[str, Any] | None = _json()  # prompt, seed, backend, model, parameters
    hide_prompt: bool = False
    remix_of_ap_id: str | None = Field(default=None, max_length=2048, index=True)
    #: The post this one quotes (FEP-044f ``quote``, or ``quoteUri``/``quoteUrl``/``_misskey_quote``); looked up
    #: by id when shown, and shown only to those who may see it (decision 0064).
    quote_ap_id: str | None = Field(default=None, max_length=2048, index=True)
    #: ``QuoteState``: whether the quoted post's author consented (``None``: no quote).
    quote_state: str | None = Field(default=None, max_length=16)
    #: The ``QuoteAuthorization`` the quoted post's server issued (FEP-044f ``quoteAuthorization``).
    quote_authorization: str | None = Field(default=None, max_length=2048)
    #: A remote post's custom emoji by shortcode, ``{"blobcat": media_id}`` (its ``Emoji`` tags).
    emojis: dict[str, Any] | None = _json()
    #: A remote post's GoToSocial ``interactionPolicy``, compact (``fediverse.core.interaction_policy``);
    #: ``None`` when it has none (everyone who can see the post may interact, as GoToSocial assumes).
    interaction_policy: dict[str, Any] | None = _json()
    #: Our reply's standing with the author of the post it answers (``Approval``), and the approval's URI.
    approval: str | None = Field(default=None, max_length=16)
    approved_by: str | None = Field(default=None, max_length=2048)
    raw: dict[str, Any] | None = _json()
    published: datetime = _created()
    edited_at: datetime | None = _ts()
    deleted_at: datetime | None = _ts()
    #: When its author pinned it to their profile (Mastodon's pins; the actor's ``featured``): a local author's
    #: pin, or a remote author's as its ``featured`` collection and ``Add``/``Remove`` say.
    pinned_at: datetime | None = _ts()
    created_at: datetime = _created()
    likes_count: int = _counter()  # likes of it that we store
    boosts_count: int = _counter()  # announces of it that we store
    replies_count: int = _counter()  # stored replies to it, not deleted


class CustomEmoji(SQLModel, table=True):
    """A remote server's custom emoji, one per shortcode and domain (Mastodon's ``custom_emojis``); its image
    is a ``REMOTE`` media row, cached like attachments (decision 0059). The media row stays when the emoji's
    image changes (its URL is updated and the copy fetched again), so posts keep naming it."""

    __tablename__ = "custom_emojis"
    __table_args__ = (UniqueConstraint("shortcode", "domain", name="uq_custom_emojis_shortcode_domain"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    shortcode: str = Field(max_length=100)
    domain: str = Field(max_length=255)
    ap_id: str | None = Field(default=None, max_length=2048)
    media_id: int = Field(index=True, sa_type=BigIntId)
    image_url: str = Field(max_length=2048)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class PostMedia(SQLModel, table=True):
    """Attachments of a post, in order."""

    __tablename__ = "post_media"

    post_id: int = Field(foreign_key="posts.id", primary_key=True, sa_type=BigIntId)
    media_id: int = Field(foreign_key="media.id", primary_key=True, sa_type=BigIntId)
    position: int = 0


class PostTag(SQLModel, table=True):
    __tablename__ = "post_tags"

    post_id: int = Field(foreign_key="posts.id", primary_key=True, sa_type=BigIntId)
    tag: str = Field(primary_key=True, max_length=255, index=True)  # lowercase, without '#'


class Mention(SQLModel, table=True):
    __tablename__ = "mentions"

    post_id: int = Field(foreign_key="posts.id", primary_key=True, sa_type=BigIntId)
    actor_id: int = Field(foreign_key="actors.id", primary_key=True, index=True, sa_type=BigIntId)


class Follow(SQLModel, table=True):
    """``follower`` follows ``followee``; pending until the followee's side accepts."""

    __tablename__ = "follows"
    __table_args__ = (UniqueConstraint("follower_id", "followee_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    follower_id: int = Field(foreign_key="actors.id", index=True, sa_type=BigIntId)
    followee_id: int = Field(foreign_key="actors.id", index=True, sa_type=BigIntId)
    state: str = Field(default=FollowState.PENDING, max_length=16)
    ap_id: str | None = Field(default=None, max_length=2048, index=True)  # the Follow activity
    created_at: datetime = _created()
    accepted_at: datetime | None = _ts()
    # A local follower's choices, as Mastodon's following CSV carries them (kept and exported; decision 0060).
    show_boosts: bool = Field(default=True, sa_column_kwargs={"server_default": sa_true()})
    notify: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    languages: list[str] | None = _json()


class Like(SQLModel, table=True):
    __tablename__ = "likes"
    __table_args__ = (UniqueConstraint("actor_id", "post_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    actor_id: int = Field(foreign_key="actors.id", index=True, sa_type=BigIntId)
    post_id: int = Field(foreign_key="posts.id", index=True, sa_type=BigIntId)
    ap_id: str | None = Field(default=None, max_length=2048, index=True)
    approval: str | None = Field(default=None, max_length=16)  # as ``Post.approval``
    approved_by: str | None = Field(default=None, max_length=2048)
    created_at: datetime = _created()


class Announce(SQLModel, table=True):
    """A boost: ``actor`` shared ``post`` with their followers."""

    __tablename__ = "announces"
    __table_args__ = (UniqueConstraint("actor_id", "post_id"),)

    id: int = Field(default_factory=new_snowflake, primary_key=True, sa_type=BigIntId)
    actor_id: int = Field(foreign_key="actors.id", index=True, sa_type=BigIntId)
    post_id: int = Field(foreign_key="posts.id", index=True, sa_type=BigIntId)
    ap_id: str | None = Field(default=None, max_length=2048, index=True)
    visibility: str = Field(default=Visibility.PUBLIC, max_length=16)
    approval: str | None = Field(default=None, max_length=16)  # as ``Post.approval``
    approved_by: str | None = Field(default=None, max_length=2048)
    published: datetime = _created()


class Block(SQLModel, table=True):
    """``blocker`` blocks ``blocked``: a local account's own block (``ap_id`` is the ``Block`` we sent, if
    the blocked actor is remote) or a remote actor's block of a local account (the ``Block`` it sent)."""

    __tablename__ = "blocks"
    __table_args__ = (UniqueConstraint("blocker_id", "blocked_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    blocker_id: int = Field(foreign_key="actors.id", index=True, sa_type=BigIntId)
    blocked_id: int = Field(foreign_key="actors.id", index=True, sa_type=BigIntId)
    ap_id: str | None = Field(default=None, max_length=2048)
    created_at: datetime = _created()


class Mute(SQLModel, table=True):
    """A local account (``muter``, its actor) stops seeing ``muted``'s posts and boosts, and, with
    ``hide_notifications``, their notifications. Never federated: the muted account cannot tell."""

    __tablename__ = "mutes"
    __table_args__ = (UniqueConstraint("muter_id", "muted_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    muter_id: int = Field(foreign_key="actors.id", index=True, sa_type=BigIntId)
    muted_id: int = Field(foreign_key="actors.id", index=True, sa_type=BigIntId)
    hide_notifications: bool = True
    created_at: datetime = _created()


class DomainBlock(SQLModel, table=True):
    __tablename__ = "domain_blocks"

    domain: str = Field(primary_key=True, max_length=255)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = _created()


class Report(SQLModel, table=True):
    """A report about an actor and some of their posts: made here by a local account, or a peer's Flag."""

    __tablename__ = "reports"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    ap_id: str | None = Field(default=None, max_length=2048, unique=True)
    reporter_id: int | None = Field(default=None, foreign_key="actors.id", sa_type=BigIntId)
    target_actor_id: int | None = Field(default=None, foreign_key="actors.id", sa_type=BigIntId)
    post_ap_ids: list[str] | None = _json()
    comment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = _created()
    resolved_at: datetime | None = _ts()
    forwarded_at: datetime | None = _ts()  # a local report also sent (as a Flag) to the target's server


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_account_id_id", "account_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    account_id: int = Field(foreign_key="accounts.id", sa_type=BigIntId)
    type: str = Field(max_length=32)
    actor_id: int | None = Field(default=None, foreign_key="actors.id", sa_type=BigIntId)
    post_id: int | None = Field(default=None, foreign_key="posts.id", sa_type=BigIntId)
    created_at: datetime = _created()
    read_at: datetime | None = _ts()


class OutboxActivity(SQLModel, table=True):
    """An activity one of our actors sent; served at its id and referenced by its deliveries."""

    __tablename__ = "outbox_activities"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    ap_id: str = Field(unique=True, max_length=2048)
    actor_id: int = Field(foreign_key="actors.id", index=True, sa_type=BigIntId)
    type: str = Field(max_length=32)
    object_ap_id: str | None = Field(default=None, max_length=2048, index=True)
    payload: dict[str, Any] = Field(sa_type=JsonDocument)
    created_at: datetime = _created()


class InboxItem(SQLModel, table=True):
    """A verified incoming activity, stored before it is applied. Unique on the activity id."""

    __tablename__ = "inbox_items"
    __table_args__ = (Index("ix_inbox_items_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    activity_ap_id: str = Field(unique=True, max_length=2048)
    actor_ap_id: str = Field(max_length=2048)
    type: str = Field(max_length=64)
    payload: dict[str, Any] = Field(sa_type=JsonDocument)
    recipient_account_id: int | None = Field(default=None, sa_type=BigIntId)  # personal inbox, else shared
    state: str = Field(default=WorkState.QUEUED, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _created()
    locked_until: datetime | None = _ts()
    last_error: str | None = _text()
    received_at: datetime = _created()
    processed_at: datetime | None = _ts()


class FetchKind(StrEnum):
    NOTE = "note"  # a post a stored reply answers, fetched as thread context
    REPLIES = "replies"  # the first pages of a remote post's ``replies`` collection
    FORWARDED = "forwarded"  # a note a forwarded Create or Update named, fetched from its origin (decision 0058)
    DELETION = "deletion"  # a note a forwarded Delete named: deleted only if its origin answers 404 or 410
    QUOTE = "quote"  # a post a stored post quotes, fetched to draw its quote card (decision 0064)
    FEATURED = "featured"  # a remote actor's ``featured`` collection: its pinned posts (target: the actor's id)


class RemoteFetch(SQLModel, table=True):
    """A remote object to fetch in the worker for a thread (decision 0015). One row per kind and target:
    asking again while one is queued changes nothing."""

    __tablename__ = "remote_fetches"
    __table_args__ = (
        UniqueConstraint("kind", "target_ap_id", name="uq_remote_fetches_kind_target"),
        Index("ix_remote_fetches_due", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    kind: str = Field(max_length=16)
    target_ap_id: str = Field(max_length=2048)
    #: For ``NOTE``: how many ancestors above the reply that asked for it (the walk stops at a bound).
    depth: int = 0
    state: str = Field(default=WorkState.QUEUED, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _created()
    locked_until: datetime | None = _ts()
    last_error: str | None = _text()
    created_at: datetime = _created()
    finished_at: datetime | None = _ts()  # when it succeeded


class MediaFetch(SQLModel, table=True):
    """A remote file (a ``REMOTE`` ``Media`` row) to fetch and cache in the worker, or on demand when someone
    asks for it (decision 0059). One row per file: asking again while it is queued changes nothing."""

    __tablename__ = "media_fetches"
    __table_args__ = (Index("ix_media_fetches_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    #: No foreign key: the row outlives a deleted post's media rows harmlessly (the fetch finds nothing).
    media_id: int = Field(unique=True, sa_type=BigIntId)
    state: str = Field(default=WorkState.QUEUED, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _created()
    locked_until: datetime | None = _ts()
    last_error: str | None = _text()
    created_at: datetime = _created()
    finished_at: datetime | None = _ts()


class Delivery(SQLModel, table=True):
    """One activity to one inbox (a shared inbox stands for all its local followers)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("activity_id", "inbox_url"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    activity_id: int = Field(foreign_key="outbox_activities.id", sa_type=BigIntId)
    inbox_url: str = Field(max_length=2048)
    host: str = Field(max_length=255, index=True)
    state: str = Field(default=WorkState.QUEUED, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _created()
    locked_until: datetime | None = _ts()
    last_status: int | None = None
    last_error: str | None = _text()
    created_at: datetime = _created()
    sent_at: datetime | None = _ts()


class HostHealth(SQLModel, table=True):
    """Delivery health of a remote host: a host that keeps failing is backed off as a whole."""

    __tablename__ = "host_health"

    host: str = Field(primary_key=True, max_length=255)
    consecutive_failures: int = 0
    first_failure_at: datetime | None = _ts()
    last_failure_at: datetime | None = _ts()
    backoff_until: datetime | None = _ts()
    last_success_at: datetime | None = _ts()


class GenerationJob(SQLModel, table=True):
    """A request to paint images; the worker runs it and records events for live progress."""

    __tablename__ = "generation_jobs"
    __table_args__ = (Index("ix_generation_jobs_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    account_id: int = Field(foreign_key="accounts.id", index=True, sa_type=BigIntId)
    state: str = Field(default=JobState.QUEUED, max_length=16)
    backend: str = Field(max_length=64)
    request: dict[str, Any] = Field(sa_type=JsonDocument)
    progress_step: int = 0
    progress_total: int = 0
    attempts: int = 0
    next_attempt_at: datetime = _created()
    locked_until: datetime | None = _ts()
    cancel_requested: bool = False
    error: str | None = _text()
    created_at: datetime = _created()
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()


class JobEvent(SQLModel, table=True):
    """The event log of a generation job; ``seq`` is the server-sent event id (resume point)."""

    __tablename__ = "job_events"

    job_id: int = Field(foreign_key="generation_jobs.id", primary_key=True, sa_type=BigIntId)
    seq: int = Field(primary_key=True)
    event: str = Field(max_length=32)
    data: dict[str, Any] = Field(sa_type=JsonDocument)
    created_at: datetime = _created()


class QuoteState(StrEnum):
    """Mastodon 4.5's quote states that apply here (its ``Quote`` entity)."""

    ACCEPTED = "accepted"  # approved by the quoted post's author (or by its policy), or a legacy quote
    PENDING = "pending"  # our ``QuoteRequest`` is waiting for an answer
    REJECTED = "rejected"  # the quoted post's author said no
    REVOKED = "revoked"  # the authorization was withdrawn (``Delete`` of the ``QuoteAuthorization``)


class QuoteAuthorization(SQLModel, table=True):
    """A FEP-044f ``QuoteAuthorization`` we issued: a local post's author lets a remote post quote it. Served at
    its own URL (``Urls.quote_authorization_id``) so the quoting server and its readers can check it."""

    __tablename__ = "quote_authorizations"
    __table_args__ = (UniqueConstraint("quoted_post_id", "quoting_ap_id", name="uq_quote_authorizations_pair"),)

    id: int = Field(default_factory=new_snowflake, primary_key=True, sa_type=BigIntId)
    quoted_post_id: int = Field(foreign_key="posts.id", index=True, sa_type=BigIntId)
    #: The quoting post (the ``QuoteRequest``'s ``instrument``) and its author.
    quoting_ap_id: str = Field(max_length=2048)
    quoting_actor_id: int = Field(foreign_key="actors.id", sa_type=BigIntId)
    #: The ``QuoteRequest`` it answers, echoed in our ``Accept``.
    request_ap_id: str | None = Field(default=None, max_length=2048)
    created_at: datetime = _created()
    revoked_at: datetime | None = _ts()


class DeletedObject(SQLModel, table=True):
    """A remote object deleted before we saw it created (a Delete that arrived first wins)."""

    __tablename__ = "deleted_objects"

    ap_id: str = Field(primary_key=True, max_length=2048)
    actor_ap_id: str = Field(max_length=2048)
    deleted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)


class WebSession(SQLModel, table=True):
    """A signed-in browser. Only the SHA-256 of the cookie token is stored."""

    __tablename__ = "web_sessions"

    token_hash: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="accounts.id", index=True, sa_type=BigIntId)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime | None = _ts()


class SignInFailure(SQLModel, table=True):
    """A failed sign-in, counted per key ("address:IP", "user:NAME address:IP") by every web process alike."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_key_failed_at", "key", "failed_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    key: str = Field(max_length=300)
    failed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)


class Invite(SQLModel, table=True):
    __tablename__ = "invites"

    code: str = Field(primary_key=True, max_length=64)
    created_by_account_id: int = Field(foreign_key="accounts.id", sa_type=BigIntId)
    max_uses: int | None = None
    uses: int = 0
    expires_at: datetime | None = _ts()
    created_at: datetime = _created()


# The Mastodon client API (docs/client-api.md): OAuth apps and their grants, and what only the API keeps.


class OAuthApp(SQLModel, table=True):
    """A client application registered through ``POST /api/v1/apps``. Only the secret's SHA-256 is stored."""

    __tablename__ = "oauth_apps"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    client_id: str = Field(unique=True, max_length=64)
    client_secret_hash: str = Field(max_length=64)
    name: str = Field(max_length=255)
    website: str | None = Field(default=None, max_length=2048)
    redirect_uris: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # one per line
    scopes: str = Field(default="read", max_length=1024)  # space-separated
    created_at: datetime = _created()


class OAuthGrant(SQLModel, table=True):
    """An authorization code, approved on the consent page, waiting to be exchanged at ``/oauth/token``."""

    __tablename__ = "oauth_grants"

    code_hash: str = Field(primary_key=True, max_length=64)
    app_id: int = Field(foreign_key="oauth_apps.id", index=True, sa_type=BigIntId)
    account_id: int = Field(foreign_key="accounts.id", index=True, sa_type=BigIntId)
    redirect_uri: str = Field(sa_column=Column(Text, nullable=False))
    scopes: str = Field(max_length=1024)
    code_challenge: str | None = Field(default=None, max_length=128)
    code_challenge_method: str | None = Field(default=None, max_length=16)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = _created()


class OAuthToken(SQLModel, table=True):
    """An access token (and its refresh token) of an app, for an account or (client credentials) for none.
    Only SHA-256 hashes are stored; access tokens do not expire, revoking deletes the row."""

    __tablename__ = "oauth_tokens"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    token_hash: str = Field(unique=True, max_length=64)
    refresh_hash: str | None = Field(default=None, unique=True, max_length=64)
    app_id: int = Field(foreign_key="oauth_apps.id", index=True, sa_type=BigIntId)
    account_id: int | None = Field(default=None, foreign_key="accounts.id", index=True, sa_type=BigIntId)
    scopes: str = Field(max_length=1024)
    created_at: datetime = _created()
    last_used_at: datetime | None = _ts()


class Bookmark(SQLModel, table=True):
    """A local account's private bookmark of a post (never federated)."""

    __tablename__ = "bookmarks"
    __table_args__ = (UniqueConstraint("account_id", "post_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    account_id: int = Field(foreign_key="accounts.id", index=True, sa_type=BigIntId)
    post_id: int = Field(foreign_key="posts.id", index=True, sa_type=BigIntId)
    created_at: datetime = _created()


class AccountDomainBlock(SQLModel, table=True):
    """A local account hides everything from one server (``/api/v1/domain_blocks``); the admin's
    instance-wide ``DomainBlock`` is another thing."""

    __tablename__ = "account_domain_blocks"

    account_id: int = Field(foreign_key="accounts.id", primary_key=True, sa_type=BigIntId)
    domain: str = Field(primary_key=True, max_length=255)
    created_at: datetime = _created()


class Marker(SQLModel, table=True):
    """Where an account stopped reading a timeline (``home`` or ``notifications``), shared by its apps."""

    __tablename__ = "markers"

    account_id: int = Field(foreign_key="accounts.id", primary_key=True, sa_type=BigIntId)
    timeline: str = Field(primary_key=True, max_length=16)
    last_read_id: str = Field(max_length=32)
    version: int = 0
    updated_at: datetime = _created()


class PostEdit(SQLModel, table=True):
    """A post as it was before an edit: ``GET /api/v1/statuses/:id/history`` lists these, then the post."""

    __tablename__ = "post_edits"
    __table_args__ = (Index("ix_post_edits_post_id_id", "post_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    post_id: int = Field(foreign_key="posts.id", sa_type=BigIntId)
    content_html: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    summary: str | None = _text()
    sensitive: bool = False
    media: list[dict[str, Any]] | None = _json()  # [{"id": media id, "description": alt text}]
    created_at: datetime = _created()  # when this version was written (the post's published or last edit)


class IdempotencyKey(SQLModel, table=True):
    """``Idempotency-Key`` of a status creation: a retried request returns the same post."""

    __tablename__ = "idempotency_keys"

    account_id: int = Field(foreign_key="accounts.id", primary_key=True, sa_type=BigIntId)
    key: str = Field(primary_key=True, max_length=255)
    post_id: int = Field(foreign_key="posts.id", sa_type=BigIntId)
    created_at: datetime = _created()


# Coming and going (decision 0060): CSV imports, archives and account deletions run in the background.


class AccountJobKind(StrEnum):
    IMPORT = "import"  # a Mastodon-format CSV, one ``ImportRow`` per line
    ARCHIVE = "archive"  # a zip of everything the account posted
    DELETION = "deletion"  # purging a deleted account's posts, media and relations in steps


class ImportType(StrEnum):
    FOLLOWING = "following"
    BLOCKS = "blocks"
    MUTES = "mutes"
    DOMAIN_BLOCKS = "domain-blocks"
    BOOKMARKS = "bookmarks"


class AccountJob(SQLModel, table=True):
    """Background work of one local account. Claimed like every work row (``storage.claims``): ``state``
    stays ``queued`` while a worker holds it (``started_at`` says it began) and ends ``succeeded`` or
    ``failed``; a crashed worker's lease lapses and another carries on where the rows say."""

    __tablename__ = "account_jobs"
    __table_args__ = (
        Index("ix_account_jobs_due", "state", "next_attempt_at"),
        Index("ix_account_jobs_account_id_id", "account_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    account_id: int = Field(foreign_key="accounts.id", sa_type=BigIntId)
    kind: str = Field(max_length=16)
    state: str = Field(default=JobState.QUEUED, max_length=16)
    # Imports: what the file holds, whether what it lacks is removed, and how far it got.
    import_type: str | None = Field(default=None, max_length=32)
    overwrite: bool = False
    prepared: bool = False  # an overwrite's removals are done
    filename: str | None = Field(default=None, max_length=255)  # as uploaded, or the archive's file name
    total_items: int = 0
    processed_items: int = 0
    imported_items: int = 0
    skipped_items: int = 0
    size_bytes: int | None = Field(default=None, sa_type=BigInteger)  # a finished archive's
    attempts: int = 0
    next_attempt_at: datetime = _created()
    locked_until: datetime | None = _ts()
    error: str | None = _text()
    created_at: datetime = _created()
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()


class ImportRowState(StrEnum):
    QUEUED = "queued"
    IMPORTED = "imported"
    SKIPPED = "skipped"  # with ``reason``


class ImportRow(SQLModel, table=True):
    """One line of an imported CSV, as parsed (``data``), and what became of it."""

    __tablename__ = "import_rows"
    __table_args__ = (Index("ix_import_rows_job_id_state_id", "job_id", "state", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    job_id: int = Field(foreign_key="account_jobs.id", sa_type=BigIntId)
    line: int  # in the uploaded file, counting from 1
    data: dict[str, Any] = Field(sa_type=JsonDocument)
    state: str = Field(default=ImportRowState.QUEUED, max_length=16)
    reason: str | None = _text()


class PostChange(SQLModel, table=True):
    """What happened to a post or a boost after it was written, for the streaming API (decision 0057):
    a post deleted or edited, a boost taken back. Written by database triggers (migration 0019), so every
    writer records them in its own transaction; kept for an hour (housekeeping)."""

    __tablename__ = "post_changes"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    kind: str = Field(max_length=16)  # "delete", "edit" or "unboost"
    post_id: int = Field(sa_type=BigInteger)  # the post (for "unboost", the boosted post)
    announce_id: int | None = Field(default=None, sa_type=BigInteger)  # "unboost": the boost's status id
    actor_id: int | None = Field(default=None, sa_type=BigInteger)  # "unboost": who had boosted
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)


# Lists and filters (docs/client-api.md): an account's own ways of reading, never federated.


class AccountList(SQLModel, table=True):
    """A list of followed accounts with its own timeline (Mastodon's ``List``)."""

    __tablename__ = "account_lists"

    id: int = Field(default_factory=new_snowflake, primary_key=True, sa_type=BigIntId)
    account_id: int = Field(foreign_key="accounts.id", index=True, sa_type=BigIntId)
    title: str = Field(max_length=255)
    replies_policy: str = Field(default="list", max_length=16)  # "followed", "list" or "none"
    exclusive: bool = False  # members' posts are left out of the home timeline
    created_at: datetime = _created()


class ListMember(SQLModel, table=True):
    """An account on a list. It counts only while the list's owner follows it."""

    __tablename__ = "list_members"
    __table_args__ = (Index("ix_list_members_actor_id", "actor_id"),)

    list_id: int = Field(foreign_key="account_lists.id", primary_key=True, sa_type=BigIntId)
    actor_id: int = Field(foreign_key="actors.id", primary_key=True, sa_type=BigIntId)
    created_at: datetime = _created()


class CustomFilter(SQLModel, table=True):
    """A filter of what an account reads (Mastodon's ``CustomFilter``): keywords or chosen posts, in some
    contexts, with a warning or hidden."""

    __tablename__ = "custom_filters"

    id: int = Field(default_factory=new_snowflake, primary_key=True, sa_type=BigIntId)
    account_id: int = Field(foreign_key="accounts.id", index=True, sa_type=BigIntId)
    title: str = Field(max_length=255)
    context: list[str] = Field(default_factory=list, sa_type=JsonDocument, nullable=False)
    action: str = Field(default="warn", max_length=8)  # "warn", "hide" or "blur"
    expires_at: datetime | None = _ts()
    created_at: datetime = _created()
    updated_at: datetime = _created()


class FilterKeyword(SQLModel, table=True):
    __tablename__ = "filter_keywords"

    id: int = Field(default_factory=new_snowflake, primary_key=True, sa_type=BigIntId)
    filter_id: int = Field(foreign_key="custom_filters.id", index=True, sa_type=BigIntId)
    keyword: str = Field(max_length=512)
    whole_word: bool = True
    created_at: datetime = _created()


class FilterStatus(SQLModel, table=True):
    __tablename__ = "filter_statuses"
    __table_args__ = (UniqueConstraint("filter_id", "post_id"),)

    id: int = Field(default_factory=new_snowflake, primary_key=True, sa_type=BigIntId)
    filter_id: int = Field(foreign_key="custom_filters.id", index=True, sa_type=BigIntId)
    post_id: int = Field(foreign_key="posts.id", index=True, sa_type=BigIntId)
    created_at: datetime = _created()

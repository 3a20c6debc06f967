"""Finding remote actors and notes: from our cache when fresh, otherwise fetched (signed, SSRF-safe)
and stored. Network I/O happens outside write transactions; each store is one short transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from activitypub.errors import ActivityPubError, GoneError, InvalidDocumentError
from activitypub.vocab import JsonObject
from fediverse.core.errors import NotFound
from fediverse.core.urls import Urls
from fediverse.federation.actors_in import actor_fields, declared_username, host_of, webfinger_address
from fediverse.federation.notes_in import RemoteNote, parse_note
from fediverse.federation.remote_media import (
    adopt_actor_emojis,
    adopt_actor_images,
    emoji_tags,
    queue_media_fetches,
    store_emojis,
)
from fediverse.federation.threads import link_replies, queue_featured_fetch
from storage.columns import key_col
from storage.db import Database
from storage.models import Actor, DeletedObject, Media, MediaState, Mention, Post, PostMedia, PostTag
from storage.types import utcnow

#: A cached remote actor older than this is fetched again before use.
ACTOR_MAX_AGE = timedelta(days=1)

FetchDocument = Callable[[str], Awaitable[JsonObject]]
LookupHandle = Callable[[str], Awaitable[str]]
#: ``user@host`` as an actor's server names the actor id through WebFinger, or ``None``.
LookupAddress = Callable[[str], Awaitable[str | None]]


async def find_actor(session: AsyncSession, ap_id: str) -> Actor | None:
    return await session.scalar(select(Actor).where(col(Actor.ap_id) == ap_id))


async def upsert_actor(session: AsyncSession, fields: dict[str, Any]) -> Actor:
    """Insert or refresh a remote actor row from ``actor_fields`` output, and queue the fetch of its pinned
    posts (``featured``)."""
    actor = await find_actor(session, fields["ap_id"])
    if actor is None:
        actor = Actor(**fields)
        session.add(actor)
    else:
        for name, value in fields.items():
            setattr(actor, name, value)
        actor.gone_at = None
    actor.fetched_at = actor.updated_at = utcnow()
    await adopt_actor_images(session, actor)
    await adopt_actor_emojis(session, actor)
    await session.flush()
    await queue_featured_fetch(session, actor)  # its pins, in the background (the thread-fetch queue)
    return actor


class Resolver:
    """Remote lookups for one process; ``fetch_document`` is a signed, SSRF-safe GET of an AS2 document."""

    def __init__(
        self,
        db: Database,
        urls: Urls,
        fetch_document: FetchDocument,
        lookup_handle: LookupHandle,
        lookup_address: LookupAddress | None = None,
    ) -> None:
        self.db = db
        self.urls = urls
        self.fetch_document = fetch_document
        self.lookup_handle = lookup_handle
        self.lookup_address = lookup_address

    async def actor(self, ap_id: str, *, refresh: bool = False) -> Actor:
        """The actor with id ``ap_id``, fetched when unknown, stale, or ``refresh`` is asked for."""
        async with self.db.session() as session:
            cached = await find_actor(session, ap_id)
        if cached is not None and (cached.is_local or self.urls.is_local(ap_id)):
            return cached
        if self.urls.is_local(ap_id):
            raise NotFound("No such local account.")
        fresh = cached is not None and cached.fetched_at is not None and utcnow() - cached.fetched_at < ACTOR_MAX_AGE
        if fresh and not refresh and cached is not None:
            return cached
        try:
            document = await self.fetch_document(ap_id)
        except GoneError:
            if cached is not None:
                await self.mark_gone(cached)
            raise
        fields = actor_fields(
            document,
            username=await self._username_from_webfinger(document, ap_id, cached),
            address=await self._confirmed_address(document, ap_id),
        )
        if fields["ap_id"] != ap_id:
            raise InvalidDocumentError("the fetched actor has another id")
        async with self.db.transaction() as session:
            return await upsert_actor(session, fields)

    async def _username_from_webfinger(self, document: JsonObject, ap_id: str, cached: Actor | None) -> str | None:
        """For an actor that declares no username: what its own server's WebFinger calls it (the answer's
        ``acct:`` subject, on the id's host), else the name we knew it by; ``None`` when it declares one."""
        if declared_username(document) is not None:
            return None
        address = await self.lookup_address(ap_id) if self.lookup_address is not None else None
        if address is not None:
            username, _, host = address.rpartition("@")
            if username and host.lower() == host_of(ap_id):
                return username
        return cached.username if cached is not None else None

    async def _confirmed_address(self, document: JsonObject, ap_id: str) -> tuple[str, str] | None:
        """FEP-2c59 on a split domain: the actor's ``webfinger`` address on another host than its id's,
        when WebFinger of that address links to this very id (the FEP's rule, and Mastodon's round trip);
        ``None`` otherwise, and the actor is then known by its id's host."""
        address = webfinger_address(document)
        if address is None or address[1] == host_of(ap_id):
            return None
        try:
            confirmed = await self.lookup_handle(f"{address[0]}@{address[1]}") == ap_id
        except ActivityPubError:
            confirmed = False
        return address if confirmed else None

    async def stored_actor_for_key(self, key_id: str) -> Actor | None:
        """The stored actor whose key is ``key_id``, when we have it with a key; no network."""
        async with self.db.session() as session:
            stored = await session.scalar(select(Actor).where(col(Actor.public_key_id) == key_id))
        return stored if stored is not None and stored.public_key_pem else None

    async def actor_for_key(self, key_id: str, *, refresh: bool = False) -> Actor:
        """The actor that owns ``key_id`` (``…#main-key``, or a separate key document such as GoToSocial's
        ``/main-key``, whose ``owner`` must point back): stored, else fetched; ``refresh`` fetches it."""
        if not refresh and (stored := await self.stored_actor_for_key(key_id)) is not None:
            return stored
        owner_id = key_id.split("#", 1)[0]
        actor = await self.actor(owner_id, refresh=refresh)
        if actor.public_key_id == key_id:
            return actor
        key_document = await self.fetch_document(key_id)
        owner = key_document.get("owner") or (key_document.get("publicKey") or {}).get("owner")
        if isinstance(owner, str) and owner != owner_id:
            actor = await self.actor(owner, refresh=refresh)
        if actor.public_key_id != key_id:
            raise InvalidDocumentError("the key does not belong to the actor it names")
        return actor

    async def handle(self, handle: str) -> Actor:
        """``@user@host`` (or ``user@host``) through WebFinger, then the actor document."""
        username, _, host = handle.strip().lstrip("@").partition("@")
        if not host or host.lower() == self.urls.host.lower():
            async with self.db.session() as session:
                local = await session.scalar(
                    select(Actor).where(col(Actor.is_local).is_(True), col(Actor.username) == username.lower())
                )
            if local is None:
                raise NotFound(f"No local account named {username!r}.")
            return local
        actor = await self.actor(await self.lookup_handle(f"{username}@{host}"))
        # The handle's server may name an actor on another server (fine for split domains, e.g.
        # @me@example.com served from ap.example.com). Believe it only when the actor's own server agrees
        # that this actor is who its address says (Mastodon's WebFinger round trip); the account is then
        # known by that address, never by the handle that pointed at it.
        on_another_server = actor.domain.lower() != host.lower()
        if on_another_server and await self.lookup_handle(f"{actor.username}@{actor.domain}") != actor.ap_id:
            raise InvalidDocumentError("the address points to an account that does not confirm it")
        return actor

    async def mark_gone(self, actor: Actor) -> None:
        async with self.db.transaction() as session:
            row = await session.get(Actor, actor.id)
            if row is not None:
                row.gone_at = utcnow()

    async def authentic_object(
        self, object_id: str, embedded: JsonObject | None = None, *, sender: str | None = None, alias_ok: bool = False
    ) -> JsonObject:
        """The document of the remote object ``object_id``, believed as its own server's word: the one place
        that decides whether a copy we were handed is trusted or the object is fetched again.

        ``embedded`` (a copy inside an activity or a collection) is trusted only when it carries
        ``object_id`` and that id is on the server of ``sender``: the signing actor's id, or the id of the
        authentic document the copy came in. A server speaks for its own objects, never for another's.
        Otherwise the object is fetched (signed) from ``object_id``, and the document must carry that id.
        ``alias_ok`` lets a bare reference (no copy) be an alias, such as a post's URL, that its server
        answers with the canonical document; ``fetch_object`` has checked that against its own id.
        """
        believed = believed_copy(object_id, embedded, sender=sender)
        if believed is not None:
            return believed
        document = await self.fetch_document(object_id)
        if get_str_id(document) != object_id and not (alias_ok and embedded is None):
            raise InvalidDocumentError("the fetched object has another id than the one we were given")
        return document

    async def note(self, ap_id: str, *, embedded: JsonObject | None = None, sender: str | None = None) -> Post | None:
        """A remote post by id: ours if known, else stored from the copy ``sender`` embedded when its server
        speaks for the note, or fetched from the note's own id (``authentic_object``)."""
        async with self.db.session() as session:
            known = await session.scalar(select(Post).where(col(Post.ap_id) == ap_id))
        if known is not None:
            return known if known.deleted_at is None else None
        if self.urls.is_local(ap_id):
            return None
        return await self.store_note(await self.authentic_object(ap_id, embedded, sender=sender, alias_ok=True))

    async def store_note(self, document: JsonObject) -> Post | None:
        """Store an authentic note (from ``authentic_object``) whose author is on its server; ``None`` when
        it was deleted, here or by its author before it arrived."""
        remote = parse_note(document, None)
        if host_of(remote.author_id) != host_of(remote.ap_id):  # checked before the author is fetched from elsewhere
            raise InvalidDocumentError("the note and its author are on different servers")
        async with self.db.session() as session:
            known = await session.scalar(select(Post).where(col(Post.ap_id) == remote.ap_id))
            if known is not None:
                return known if known.deleted_at is None else None
            if await deleted_by_author(session, remote.ap_id, remote.author_id):
                return None
        author = await self.actor(remote.author_id)
        remote = parse_note(document, author.followers_url)
        async with self.db.transaction() as session:
            return await store_remote_note(session, remote, author)


def believed_copy(object_id: str, embedded: JsonObject | None, *, sender: str | None) -> JsonObject | None:
    """``embedded`` when it may be believed without fetching ``object_id`` (``Resolver.authentic_object``)."""
    if (
        embedded is not None
        and sender is not None
        and get_str_id(embedded) == object_id
        and host_of(object_id) == host_of(sender)
    ):
        return embedded
    return None


def get_str_id(document: JsonObject) -> str | None:
    value = document.get("id")
    return value if isinstance(value, str) else None


async def deleted_by_author(session: AsyncSession, ap_id: str, author_id: str) -> bool:
    """Whether ``author_id`` deleted the object ``ap_id`` before we saw it (a ``DeletedObject`` marker);
    anyone else's Delete of it counts for nothing (Mastodon keys these markers by account too)."""
    marker = await session.get(DeletedObject, ap_id)
    return marker is not None and marker.actor_ap_id == author_id


async def store_remote_note(
    session: AsyncSession, remote: RemoteNote, author: Actor, *, known_new: bool = False
) -> Post:
    """Insert (or return the existing) post for a remote note, with its media, tags and local mentions.
    ``known_new``: the caller checked in this transaction that no post has the note's id."""
    if not known_new:
        existing = await session.scalar(select(Post).where(col(Post.ap_id) == remote.ap_id))
        if existing is not None:
            return existing
    assert author.id is not None
    fields = {key: value for key, value in remote.fields.items() if value is not None or key == "in_reply_to_ap_id"}
    fields.setdefault("published", utcnow())
    post = Post(author_id=author.id, is_local=False, **fields)
    if post.in_reply_to_ap_id:
        post.in_reply_to_id = await session.scalar(
            select(col(Post.id)).where(col(Post.ap_id) == post.in_reply_to_ap_id)
        )
    session.add(post)
    await session.flush()
    await link_replies(session, post)
    await add_attachments(session, post, remote)
    mentioned: Iterable[int] = (
        await session.scalars(select(key_col(Actor.id)).where(col(Actor.ap_id).in_(remote.mention_ids)))
        if remote.mention_ids
        else []
    )
    session.add_all(Mention(post_id=post.id, actor_id=actor_id) for actor_id in mentioned)
    await session.flush()
    return post


async def replace_attachments(session: AsyncSession, post: Post, remote: RemoteNote) -> None:
    """Set a stored remote post's attachments, hashtags and emoji to what ``remote`` describes (an Update)."""
    for link in await session.scalars(select(PostMedia).where(col(PostMedia.post_id) == post.id)):
        await session.delete(link)
    for tag in await session.scalars(select(PostTag).where(col(PostTag.post_id) == post.id)):
        await session.delete(tag)
    await session.flush()
    await add_attachments(session, post, remote)


async def add_attachments(session: AsyncSession, post: Post, remote: RemoteNote) -> None:
    """Give a remote post, which has none yet, the attachments, hashtags and custom emoji ``remote``
    describes, and queue their files for the cache (decision 0059)."""
    queued = []
    for position, attachment in enumerate(remote.attachments):
        media = Media(
            state=MediaState.REMOTE,
            mime=attachment.mime,
            remote_url=attachment.url,
            alt_text=attachment.alt_text,
            blurhash=attachment.blurhash,
            width=attachment.width,
            height=attachment.height,
            focal_x=attachment.focal_x,
            focal_y=attachment.focal_y,
        )
        session.add(media)
        await session.flush()
        session.add(PostMedia(post_id=post.id, media_id=media.id or 0, position=position))
        queued.append(media.id)
    session.add_all(PostTag(post_id=post.id, tag=tag) for tag in remote.tags)
    await queue_media_fetches(session, queued)
    tags = emoji_tags(remote.fields.get("raw") or {})
    domain = await session.scalar(select(col(Actor.domain)).where(col(Actor.id) == post.author_id)) if tags else None
    post.emojis = await store_emojis(session, domain, tags) if domain else None

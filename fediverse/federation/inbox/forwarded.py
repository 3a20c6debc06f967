"""Forwarded activities: a third party's ``Create``, ``Update`` or ``Delete`` that another server passes on
(decision 0058).

Mastodon forwards a reply to the followers of the post it answers, and an edit or deletion of it the same
way, signed over HTTP by the forwarding server, not by the author. The inbox accepts such a request (202)
as a ``Forward`` item and believes nothing of its body until:

* its Linked Data signature (``RsaSignature2017``) verifies with the author's own key: then it is applied
  at once, as if the author had delivered it; or else
* the object's origin says so: the note is fetched (signed, from its own id, through the thread-fetch
  queue) and stored or edited as its server serves it; a Delete is applied only when the origin answers
  404 or 410 for a public or unlisted post (a followers-only post may answer 404 to us while it exists).

Bounded: only activities about something we store (a reply to a post we have, an edit or deletion of a
remote post we have by that author) cost any work; others are dropped without a fetch. Each forward costs
at most one fetch, none while one for the same object is queued, and the forwarder's server spends its
inbox allowance on each. Nothing is ever forwarded on by us.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from activitypub.errors import ActivityPubError, FetchError, GoneError, InvalidDocumentError
from activitypub.keys import load_public_key
from activitypub.ld_signatures import LinkedDataSignatureError, signature_creator, verify_document
from activitypub.vocab import get_id, get_types
from fediverse.core.domain_blocks import blocked_hosts
from fediverse.core.errors import ReverieError
from fediverse.federation.actors_in import host_of
from fediverse.federation.inbox.context import IngestContext, embedded_object, post_by_id
from fediverse.federation.inbox.create_update import create_note, handle_update
from fediverse.federation.inbox.delete_block_flag import handle_delete
from fediverse.federation.notes_in import parse_note
from fediverse.federation.threads import queue_origin_fetch
from storage.models import Actor, FetchKind, Visibility

log = logging.getLogger(__name__)

#: The ``InboxItem`` type of a forwarded activity, and the prefix of its key (never an activity id, which is
#: always http(s)), so a forward cannot squat the id of the author's own delivery.
FORWARD = "Forward"
FORWARD_KEY_PREFIX = "forwarded:"
#: What Mastodon forwards (a reply, and its edits and deletion); anything else forwarded is ignored.
FORWARDABLE_TYPES = frozenset({"Create", "Update", "Delete"})
#: Deletions are confirmed only for posts whose origin answers anyone: others may 404 to us while alive.
CONFIRMABLE_VISIBILITIES = frozenset({Visibility.PUBLIC, Visibility.UNLISTED})


async def handle_forward(context: IngestContext, forwarder: Actor, activity: dict[str, Any]) -> None:
    """Apply a forwarded activity as its Linked Data signature or its origin allows (see the module)."""
    kind = next((kind for kind in get_types(activity) if kind in FORWARDABLE_TYPES), None)
    author_id = get_id(activity.get("actor"))
    target = get_id(activity.get("object"))
    if kind is None or not author_id or not target or target == author_id:
        return  # an account's own deletion is not taken from a third party
    if host_of(target) != host_of(author_id) or context.urls.is_local(author_id):
        return  # a server speaks for its own objects only; ours we know
    async with context.reading() as session:
        if await blocked_hosts(session, [host_of(author_id)]):
            return
        if not await _concerns_us(session, kind, activity, target, author_id):
            log.info("ignoring a forwarded %s of %s (from %s): nothing here", kind, target, forwarder.ap_id)
            return
    if signature_creator(activity) is not None:
        context.alone_only("checking a forwarded activity's linked data signature")
        author = await _signed_by_author(context, activity, author_id)
        if author is not None:
            await _apply(context, author, kind, activity)
            return
    async with context.writing() as session:
        await queue_origin_fetch(session, FetchKind.DELETION if kind == "Delete" else FetchKind.FORWARDED, target)


async def _concerns_us(session: Any, kind: str, activity: dict[str, Any], target: str, author_id: str) -> bool:
    """Whether the forward is about something we store: a reply to a post we have (for a Create), or a
    remote post of ``author_id`` that we have (an Update or Delete)."""
    if kind == "Create":
        note = embedded_object(activity)
        parent = get_id(note.get("inReplyTo")) if note is not None else None
        stored = await post_by_id(session, parent) if parent else None
        return stored is not None and stored.deleted_at is None
    post = await post_by_id(session, target)
    if post is None or post.is_local or post.deleted_at is not None:
        return False
    author = await session.get(Actor, post.author_id)
    return author is not None and author.ap_id == author_id


async def _signed_by_author(context: IngestContext, activity: dict[str, Any], author_id: str) -> Actor | None:
    """The author, when the activity's Linked Data signature is by a key of the author's and verifies; else
    ``None`` (the origin is asked instead). The key is fetched again once should the stored one fail (the
    author may have rotated it)."""
    creator = signature_creator(activity)
    if creator is None or host_of(creator) != host_of(author_id):
        return None
    for refresh in (False, True):
        try:
            owner = await context.resolver.actor_for_key(creator, refresh=refresh)
            if owner.ap_id != author_id:
                return None
            public_key = load_public_key(owner.public_key_pem or "")
            await asyncio.to_thread(verify_document, activity, public_key)  # normalising is CPU work
        except LinkedDataSignatureError as error:
            log.info("forwarded %s: %s", activity.get("id"), error)
            continue
        except (ActivityPubError, ReverieError) as error:
            log.info("forwarded %s: the signer's key could not be had: %s", activity.get("id"), error)
            return None
        return owner
    return None


async def _apply(context: IngestContext, author: Actor, kind: str, activity: dict[str, Any]) -> None:
    """Apply an activity whose author is authenticated, as if the author had delivered it."""
    if kind == "Create":
        await create_note(context, author, activity, in_known_thread=True)
    elif kind == "Update":
        await handle_update(context, author, activity)
    else:
        await handle_delete(context, author, activity)


# -- run by the thread-fetch queue (``fetch_queue.ThreadFetchQueue``) ----------------------------------------


async def fetch_forwarded(context: IngestContext, target: str) -> None:
    """``FetchKind.FORWARDED``: the note as its origin serves it, stored (a reply to a post we have) or applied
    as an edit of the post we have; whatever the forwarded copy said is not used."""
    note = await context.resolver.authentic_object(target)
    author_id = parse_note(note, None).author_id
    if host_of(author_id) != host_of(target):
        raise InvalidDocumentError("the note and its author are on different servers")
    author = await context.resolver.actor(author_id)
    activity = {"id": f"{target}#fetched", "type": "Update", "actor": author_id, "object": note}
    async with context.reading() as session:
        stored = await post_by_id(session, target)
    if stored is None:
        await create_note(context, author, {**activity, "type": "Create"}, in_known_thread=True)
    else:
        await handle_update(context, author, activity)


async def confirm_deletion(context: IngestContext, target: str) -> None:
    """``FetchKind.DELETION``: delete our copy of a public or unlisted remote post once its origin answers
    404 or 410 for it; while the origin still serves it, the forwarded Delete is not believed."""
    try:
        await context.resolver.fetch_document(target)
    except GoneError:
        pass
    except FetchError as error:
        if error.status != 404:
            raise  # the origin is down or refuses us: ask again later
    else:
        log.info("a forwarded Delete of %s is not believed: its origin still serves it", target)
        return
    async with context.reading() as session:
        post = await post_by_id(session, target)
        author = await session.get(Actor, post.author_id) if post is not None else None
    if post is None or author is None or post.is_local or post.deleted_at is not None:
        return
    if post.visibility not in CONFIRMABLE_VISIBILITIES:
        return
    await handle_delete(context, author, {"type": "Delete", "actor": author.ap_id, "object": target})

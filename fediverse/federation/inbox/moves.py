"""``Move`` from remote accounts (FEP-7628, as Mastodon sends it; decision 0061).

A Move is believed only when: its actor is its object (an account moves itself, and the signature is
the actor's, checked at the inbox); the target, fetched fresh, lists the old account in ``alsoKnownAs``;
and the old account's own document, fetched fresh, says ``movedTo`` the target (what a stolen key alone
cannot make its server serve). Then local followers of the old account follow the new one, are
notified, and local blocks and mutes carry over (``fediverse.social.moves.move_follows``). A Move of
an account that moved here within ``MOVE_COOLDOWN``, or that no local account follows, blocks or mutes,
changes nothing; one to a server under a domain block is refused.
"""

from __future__ import annotations

from typing import Any

from activitypub.errors import InvalidDocumentError
from activitypub.vocab import get_id
from fediverse.core.domain_blocks import blocked_hosts
from fediverse.federation.actors_in import host_of
from fediverse.federation.inbox.context import IngestContext, object_id, reload
from fediverse.social.moves import has_local_ties, move_follows, moved_recently
from storage.models import Actor
from storage.types import utcnow


async def handle_move(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    old_id = object_id(activity)
    if old_id != actor.ap_id:
        raise InvalidDocumentError("a Move must move its own actor (object == actor)")
    target_id = get_id(activity.get("target"))
    if not target_id or not target_id.startswith(("https://", "http://")) or target_id == old_id:
        raise InvalidDocumentError("the Move has no usable target")
    assert actor.id is not None
    async with context.reading() as session:
        old = await reload(session, actor)
        if moved_recently(old) or not await has_local_ties(session, actor.id):
            return
        if await blocked_hosts(session, [host_of(target_id)]):
            raise InvalidDocumentError("the Move's target is on a server this instance blocks")
    context.alone_only("fetching the moving account and its target")
    new = await context.resolver.actor(target_id, refresh=True)
    if old_id not in (new.also_known_as or []):
        raise InvalidDocumentError("the Move's target does not list the moving account in alsoKnownAs")
    fresh = await context.resolver.actor(old_id, refresh=True)
    if fresh.moved_to_ap_id != new.ap_id:
        raise InvalidDocumentError("the moving account's document does not say movedTo the Move's target")
    async with context.writing() as session:
        old, target = await reload(session, actor), await reload(session, new)
        if moved_recently(old):
            return  # another worker applied the same move meanwhile
        old.moved_at = utcnow()
        await move_follows(session, context.urls, old, target)

"""Applying verified incoming activities (the worker's side of the inbox; decision 0020).

Each handler checks what Mastodon checks (origin, ownership, relevance), does its network lookups
before opening a write transaction, and changes rows through ``fediverse.social`` so local and remote
actions share one implementation. Handlers raise ``InvalidDocumentError`` (or a ``ReverieError``) for
activities that can never apply; network failures propagate so the worker retries later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fediverse.federation.inbox.context import IngestContext
from fediverse.federation.inbox.create_update import handle_create, handle_update
from fediverse.federation.inbox.delete_block_flag import handle_block, handle_delete, handle_flag
from fediverse.federation.inbox.follows import handle_accept, handle_follow, handle_reject
from fediverse.federation.inbox.forwarded import FORWARD, handle_forward
from fediverse.federation.inbox.interactions import handle_announce, handle_like
from fediverse.federation.inbox.moves import handle_move
from fediverse.federation.inbox.pins import handle_add, handle_remove
from fediverse.federation.inbox.quotes import handle_quote_request
from fediverse.federation.inbox.undo import handle_undo
from storage.models import Actor

Handler = Callable[[IngestContext, Actor, dict[str, Any]], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    "Follow": handle_follow,
    "Accept": handle_accept,
    "Reject": handle_reject,
    "Undo": handle_undo,
    "Create": handle_create,
    "Update": handle_update,
    "Delete": handle_delete,
    "Like": handle_like,
    "Announce": handle_announce,
    "Block": handle_block,
    "Flag": handle_flag,
    FORWARD: handle_forward,  # not an activity type: the inbox stores forwarded activities under it
    "Move": handle_move,
    "QuoteRequest": handle_quote_request,
    "Add": handle_add,  # a remote actor's pin (``featured``)
    "Remove": handle_remove,
}
HANDLED_TYPES = frozenset(HANDLERS) - {FORWARD}

__all__ = ["HANDLED_TYPES", "HANDLERS", "IngestContext"]

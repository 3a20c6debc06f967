"""Who may quote a post: GoToSocial's ``interactionPolicy.canQuote`` as FEP-044f and Mastodon 4.5 use it
(decision 0064). Only ``canQuote`` lives here; the other sub-policies (``canReply``, ``canLike``,
``canAnnounce``) are their own module's, and a Note's ``interactionPolicy`` is the union of both.

- ``quote_policy_terms``: what our Notes publish. Public and unlisted posts may be quoted by anyone,
  automatically; followers-only and direct posts by nobody but their author (Mastodon's defaults).
- ``remote_quote_approval``: how a remote post's published policy applies to one of our accounts.
- ``local_quote_approval``: the same for our own posts, when someone asks to quote one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from activitypub.vocab import PUBLIC, PUBLIC_ALIASES, JsonObject, get_ids
from storage.models import Post, Visibility


class QuoteApproval(StrEnum):
    AUTOMATIC = "automatic"  # quote at once, no request
    MANUAL = "manual"  # send a ``QuoteRequest`` and wait for the author's answer
    DENIED = "denied"  # nobody but the author may quote it
    UNKNOWN = "unknown"  # no policy published: a server without FEP-044f, quoted as before it existed


def quote_policy_terms(post: Post, author_ap_id: str) -> JsonObject:
    """``{"canQuote": …}`` for ``interactionPolicy`` on our Note (Mastodon's shape: automatic approval only;
    the author alone when nobody else may)."""
    everyone = post.visibility in (Visibility.PUBLIC, Visibility.UNLISTED)
    return {"canQuote": {"automaticApproval": [PUBLIC] if everyone else [author_ap_id]}}


def local_quote_approval(post: Post, quoting_actor_id: int | None) -> QuoteApproval:
    """Our post's policy for one actor: its author always, anyone for a public or unlisted post."""
    if quoting_actor_id is not None and quoting_actor_id == post.author_id:
        return QuoteApproval.AUTOMATIC
    if post.visibility in (Visibility.PUBLIC, Visibility.UNLISTED):
        return QuoteApproval.AUTOMATIC
    return QuoteApproval.DENIED


def remote_quote_approval(
    note: dict[str, Any] | None,
    quoting_actor_ap_id: str,
    *,
    author_ap_id: str,
    author_followers_url: str | None,
    follows_author: bool,
) -> QuoteApproval:
    """How the ``canQuote`` a remote note publishes applies to ``quoting_actor_ap_id`` (one of ours):
    automatic when ``automaticApproval`` names the public, the actor, or the author's followers and the actor
    follows the author; manual when ``manualApproval`` names any of those; denied otherwise. A note without
    ``canQuote`` is ``UNKNOWN`` (its server predates FEP-044f)."""
    policy = note.get("interactionPolicy") if isinstance(note, dict) else None
    can_quote = policy.get("canQuote") if isinstance(policy, dict) else None
    if not isinstance(can_quote, dict):
        return QuoteApproval.UNKNOWN
    if quoting_actor_ap_id == author_ap_id:
        return QuoteApproval.AUTOMATIC
    for key, approval in (("automaticApproval", QuoteApproval.AUTOMATIC), ("manualApproval", QuoteApproval.MANUAL)):
        named = set(get_ids(can_quote.get(key)))
        if named & PUBLIC_ALIASES or quoting_actor_ap_id in named:
            return approval
        if follows_author and author_followers_url is not None and author_followers_url in named:
            return approval
    return QuoteApproval.DENIED

"""Who may reply to, like, boost or quote a post: GoToSocial's interaction policies, as one rule (decision 0063).

A policy is stored compactly on the post (``Post.interaction_policy``)::

    {"reply": {"auto": ["public"], "manual": []}, "like": {...}, "announce": {...}, "quote": {...}}

Each entry is a keyword — ``public`` (anyone who can see the post), ``followers`` / ``following`` (the
author's collections), ``mentioned`` (people the post mentions; only in our own policies) — or an actor id.
A sub-policy that is missing lets everyone who can see the post (``quote``: nobody but the author), as
GoToSocial's documentation says; a post without a policy lets everyone. Seeing the post is always needed
too (``core.visibility``); this rule only narrows it.

Precedence, as GoToSocial documents it: the most specific entry wins (an actor id, then the author's
collections, then ``public``); at the same level automatic approval wins over manual. The author, and for
replies the people the post mentions, may always interact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from storage.models import Visibility

PUBLIC = "public"
FOLLOWERS = "followers"
FOLLOWING = "following"
MENTIONED = "mentioned"

#: Interaction kinds, as stored (GoToSocial's sub-policy names map to these).
REPLY = "reply"
LIKE = "like"
ANNOUNCE = "announce"
QUOTE = "quote"
KINDS = (REPLY, LIKE, ANNOUNCE, QUOTE)
#: Only public and unlisted posts can be boosted (as on Mastodon), whatever a policy says.
BOOSTABLE = (Visibility.PUBLIC, Visibility.UNLISTED)


class Permission(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"
    DENIED = "denied"


@dataclass(frozen=True)
class Verdict:
    permission: Permission
    #: The interaction is sent only to the author and waits for an ``Accept`` before it goes further: manual
    #: approval, or automatic approval that rests on a followers/following collection only the author's server
    #: can check (GoToSocial's "validating presence in a collection").
    needs_accept: bool = False

    @property
    def allowed(self) -> bool:
        return self.permission is not Permission.DENIED


EVERYONE = Verdict(Permission.AUTOMATIC)
NOBODY = Verdict(Permission.DENIED)


@dataclass(frozen=True)
class Relation:
    """What the rule needs to know about the account asking, towards the post and its author."""

    actor_id: str  # the asking account's ActivityPub id
    is_author: bool = False
    #: The author's collections the account is in, by keyword and by id: ``{"followers", followers_url}``
    #: when it follows the author, ``{"following", following_url}`` when the author follows it.
    collections: frozenset[str] = frozenset()
    mentioned: bool = False  # mentioned in the post, or the author of the post it answers


def relation(
    actor_id: str,
    author: tuple[str | None, str | None],
    *,
    is_author: bool = False,
    follows_author: bool = False,
    followed_by_author: bool = False,
    mentioned: bool = False,
) -> Relation:
    """A ``Relation``; ``author`` is the author's (followers, following) collection ids."""
    followers, following = author
    collections: set[str] = set()
    if follows_author:
        collections |= {FOLLOWERS, *([followers] if followers else [])}
    if followed_by_author:
        collections |= {FOLLOWING, *([following] if following else [])}
    return Relation(actor_id, is_author=is_author, collections=frozenset(collections), mentioned=mentioned)


def decide(policy: Mapping[str, Any] | None, kind: str, relation: Relation) -> Verdict:
    """What ``relation``'s account may do of ``kind`` on a post with ``policy``."""
    if relation.is_author:
        return EVERYONE
    if kind == REPLY and relation.mentioned:
        return EVERYONE
    sub = (policy or {}).get(kind)
    if not isinstance(sub, Mapping) or not (sub.get("auto") or sub.get("manual")):
        return NOBODY if kind == QUOTE else EVERYONE
    auto, manual = set(sub.get("auto") or ()), set(sub.get("manual") or ())
    if relation.actor_id in auto:
        return EVERYONE
    if relation.actor_id in manual:
        return Verdict(Permission.MANUAL, needs_accept=True)
    if relation.mentioned and MENTIONED in auto:
        return EVERYONE
    collections = relation.collections
    if collections & auto:
        return Verdict(Permission.AUTOMATIC, needs_accept=True)
    if collections & manual:
        return Verdict(Permission.MANUAL, needs_accept=True)
    if PUBLIC in auto:
        return EVERYONE
    if PUBLIC in manual:
        return Verdict(Permission.MANUAL, needs_accept=True)
    return NOBODY


def compact(sub_policies: Mapping[str, tuple[Sequence[str], Sequence[str]]]) -> dict[str, Any] | None:
    """The stored form of parsed sub-policies (``kind -> (automatic, manual)``); ``None`` when there are none."""
    stored = {
        kind: {"auto": list(dict.fromkeys(auto)), "manual": list(dict.fromkeys(manual))}
        for kind, (auto, manual) in sub_policies.items()
        if kind in KINDS
    }
    return stored or None


def local_policy(visibility: str) -> dict[str, Any]:
    """Our own posts' policy, in the stored form: what anyone allowed to see a post may do, automatically.

    Public and unlisted: everyone. Followers-only: followers and the people mentioned may reply and like.
    Direct: the people mentioned. Only public and unlisted posts can be boosted (as on Mastodon), so the
    others' ``announce`` names nobody but the author (who is always allowed)."""
    if visibility in (Visibility.PUBLIC, Visibility.UNLISTED):
        everyone = {"auto": [PUBLIC], "manual": []}
        return {REPLY: everyone, LIKE: everyone, ANNOUNCE: everyone}
    audience = [FOLLOWERS, MENTIONED] if visibility == Visibility.FOLLOWERS else [MENTIONED]
    return {
        REPLY: {"auto": audience, "manual": []},
        LIKE: {"auto": audience, "manual": []},
        ANNOUNCE: {"auto": [], "manual": []},
    }


REFUSALS = {
    REPLY: "The author's interaction policy does not let you reply to this post.",
    LIKE: "The author's interaction policy does not let you like this post.",
    ANNOUNCE: "The author's interaction policy does not let you boost this post.",
    QUOTE: "The author's interaction policy does not let you quote this post.",
}

PENDING_NOTES = {
    REPLY: "Replies need the author's approval.",
    LIKE: "Likes need the author's approval.",
    ANNOUNCE: "Boosts need the author's approval.",
    QUOTE: "Quotes need the author's approval.",
}

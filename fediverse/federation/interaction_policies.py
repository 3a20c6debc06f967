"""GoToSocial's ``interactionPolicy`` on the wire: read from remote posts, written on ours; and the
``approvedBy`` / ``*Authorization`` terms of an approved interaction (decision 0063).

The rule itself (who may do what) is ``fediverse.core.interaction_policy``; this module only translates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from activitypub.vocab import PUBLIC, PUBLIC_ALIASES, JsonObject, as_list, get_id
from fediverse.core import interaction_policy as rule
from storage.models import Actor, Post

#: GoToSocial's sub-policy names and ours.
SUB_POLICIES = {"canReply": rule.REPLY, "canLike": rule.LIKE, "canAnnounce": rule.ANNOUNCE, "canQuote": rule.QUOTE}
#: Entries read per list: a policy names the public, two collections and a handful of people.
MAX_ENTRIES = 100
#: The property an approval of each kind of interaction is named by (GoToSocial 0.20+), beside ``approvedBy``.
AUTHORIZATION_PROPERTIES = {
    rule.REPLY: "replyAuthorization",
    rule.LIKE: "likeAuthorization",
    rule.ANNOUNCE: "announceAuthorization",
}
#: The path segment of the authorizations we serve (``Urls.authorization_id``), by kind, and back.
AUTHORIZATION_PATHS = {rule.REPLY: "replies", rule.LIKE: "likes"}
AUTHORIZATION_TYPES = {
    rule.REPLY: "ReplyAuthorization",
    rule.LIKE: "LikeAuthorization",
    rule.ANNOUNCE: "AnnounceAuthorization",
}


def _entries(value: Any) -> list[str]:
    found: list[str] = []
    for item in as_list(value)[:MAX_ENTRIES]:
        entry = get_id(item)
        if entry is None or len(entry) > 2048:
            continue
        found.append(rule.PUBLIC if entry in PUBLIC_ALIASES else entry)
    return found


def parse_policy(note: Mapping[str, Any]) -> dict[str, Any] | None:
    """The stored form of a Note's ``interactionPolicy``; ``None`` when it has none (or it is ``null``/``{}``).

    Reads GoToSocial's current ``automaticApproval``/``manualApproval`` and its older ``always``/
    ``approvalRequired`` (0.17–0.20 send the latter, 0.20 both); a sub-policy that is ``null`` or ``{}``
    counts as missing. Collections and actors stay as their ids: whether one is the author's followers or
    following collection is decided when the rule is asked (``Relation``)."""
    policy = note.get("interactionPolicy")
    if not isinstance(policy, Mapping):
        return None
    parsed: dict[str, tuple[list[str], list[str]]] = {}
    for name, kind in SUB_POLICIES.items():
        sub = policy.get(name)
        if not isinstance(sub, Mapping):
            continue
        auto = _entries(sub.get("automaticApproval")) + _entries(sub.get("always"))
        manual = _entries(sub.get("manualApproval")) + _entries(sub.get("approvalRequired"))
        if auto or manual:
            parsed[kind] = (auto, manual)
    return rule.compact(parsed)


def policy_document(post: Post, author: Actor, mention_ids: Sequence[str]) -> JsonObject:
    """``interactionPolicy`` for one of our posts (``rule.local_policy``), in GoToSocial's current format.

    Every sub-policy we enforce is set even where it matches the default, so GoToSocial knows we do; the
    author is always listed unless the public already covers them, as GoToSocial does. ``canQuote`` is left
    to the quoting code."""

    def uris(entries: Sequence[str]) -> list[str]:
        out: list[str] = []
        for entry in entries:
            if entry == rule.PUBLIC:
                out.append(PUBLIC)
            elif entry == rule.FOLLOWERS and author.followers_url:
                out.append(author.followers_url)
            elif entry == rule.FOLLOWING and author.following_url:
                out.append(author.following_url)
            elif entry == rule.MENTIONED:
                out.extend(mention_ids)
        if PUBLIC not in out:
            out.insert(0, author.ap_id)
        return list(dict.fromkeys(out))

    policy = rule.local_policy(post.visibility)
    names = {kind: name for name, kind in SUB_POLICIES.items()}
    return {names[kind]: {"automaticApproval": uris(sub["auto"]), "manualApproval": []} for kind, sub in policy.items()}


def approval_terms(kind: str, approved_by: str | None) -> JsonObject:
    """``approvedBy`` and the kind's ``*Authorization`` property of an approved interaction of ours (both, as
    GoToSocial 0.20 sends them: older servers read the first, newer ones the second)."""
    if not approved_by:
        return {}
    return {"approvedBy": approved_by, AUTHORIZATION_PROPERTIES[kind]: approved_by}


def authorization_document(
    kind: str, authorization_id: str, author_id: str, interaction_id: str, target_id: str
) -> JsonObject:
    """The authorization object we serve at an ``Accept``'s ``result`` (GoToSocial 0.20+'s shape): who
    approved (``attributedTo``), what (``interactingObject``) and on which post (``interactionTarget``)."""
    return {
        "id": authorization_id,
        "type": AUTHORIZATION_TYPES[kind],
        "attributedTo": author_id,
        "interactingObject": interaction_id,
        "interactionTarget": target_id,
    }

"""What a viewer may do with each post of a page (reply, like, boost), under the posts' interaction policies
(``core.interaction_policy``, decision 0063), in a fixed number of queries for the whole page.

Only posts that carry a policy cost anything: the others let everyone who sees them reply and like, and
boost when public or unlisted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlmodel import col

from fediverse.core import interaction_policy as rule
from fediverse.federation.notes import PostView
from storage.models import Actor, Follow, FollowState, Post


@dataclass(frozen=True)
class Permissions:
    reply: rule.Verdict = rule.EVERYONE
    like: rule.Verdict = rule.EVERYONE
    boost: rule.Verdict = rule.EVERYONE

    def of(self, kind: str) -> rule.Verdict:
        return {rule.REPLY: self.reply, rule.LIKE: self.like, rule.ANNOUNCE: self.boost}[kind]


_FOLLOWED = select(col(Follow.followee_id)).where(
    col(Follow.follower_id) == bindparam("viewer"),
    col(Follow.followee_id).in_(bindparam("ids", expanding=True)),
    col(Follow.state) == FollowState.ACCEPTED,
)
_FOLLOWING = select(col(Follow.follower_id)).where(
    col(Follow.followee_id) == bindparam("viewer"),
    col(Follow.follower_id).in_(bindparam("ids", expanding=True)),
    col(Follow.state) == FollowState.ACCEPTED,
)
_ANSWERED = select(col(Post.id)).where(
    col(Post.id).in_(bindparam("ids", expanding=True)), col(Post.author_id) == bindparam("viewer")
)


def permissions(session: Session, views: Sequence[PostView], viewer_actor_id: int | None) -> dict[int, Permissions]:
    """The viewer's permissions for each post of ``views``, by post id."""
    found: dict[int, Permissions] = {}
    policied = [view for view in views if view.post.interaction_policy and view.author.id != viewer_actor_id]
    relations: dict[int, rule.Relation] = {}
    if policied and viewer_actor_id is not None:
        relations = _relations(session, policied, viewer_actor_id)
    for view in views:
        post = view.post
        relation = relations.get(post.id)
        if relation is None:
            reply = like = boost = rule.EVERYONE
        else:
            reply = rule.decide(post.interaction_policy, rule.REPLY, relation)
            like = rule.decide(post.interaction_policy, rule.LIKE, relation)
            boost = rule.decide(post.interaction_policy, rule.ANNOUNCE, relation)
        if post.visibility not in rule.BOOSTABLE:
            boost = rule.NOBODY
        found[post.id] = Permissions(reply=reply, like=like, boost=boost)
    return found


def _relations(session: Session, views: Sequence[PostView], viewer_actor_id: int) -> dict[int, rule.Relation]:
    viewer_ap_id = session.scalar(select(col(Actor.ap_id)).where(col(Actor.id) == viewer_actor_id))
    if viewer_ap_id is None:
        return {}
    author_ids = list({view.author.id for view in views if view.author.id is not None})
    followed = set(session.scalars(_FOLLOWED, {"viewer": viewer_actor_id, "ids": author_ids}))
    following = set(session.scalars(_FOLLOWING, {"viewer": viewer_actor_id, "ids": author_ids}))
    parent_ids = list({view.post.in_reply_to_id for view in views if view.post.in_reply_to_id})
    answered = set(session.scalars(_ANSWERED, {"viewer": viewer_actor_id, "ids": parent_ids})) if parent_ids else set()
    return {
        view.post.id: rule.relation(
            viewer_ap_id,
            (view.author.followers_url, view.author.following_url),
            follows_author=view.author.id in followed,
            followed_by_author=view.author.id in following,
            mentioned=any(actor.id == viewer_actor_id for actor in view.mentions)
            or view.post.in_reply_to_id in answered,
        )
        for view in views
    }

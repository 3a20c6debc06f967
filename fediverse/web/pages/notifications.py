"""Notifications: follows and follow requests (approve / reject), likes, boosts, replies, mentions,
remixes, and followed accounts that moved (decision 0061). Opening the page marks them read; the header
shows how many are unread."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.reads.cards import PostCard, load_cards
from fediverse.reads.timelines import Entry
from fediverse.services import Services
from fediverse.social.follows import find_follow
from fediverse.social.notifications import shown_to
from fediverse.web.params import query_id
from fediverse.web.rendering import render_page
from fediverse.web.sessions import require_account
from storage.models import Actor, FollowState, Notification, NotificationType
from storage.types import utcnow

PAGE_SIZE = 40


@dataclass(frozen=True)
class NotificationView:
    notification: Notification
    actor: Actor | None
    card: PostCard | None
    pending_request: bool = False
    moved_to: Actor | None = None  # a ``move``: the account the actor moved to

    @property
    def unread(self) -> bool:
        return self.notification.read_at is None


async def notifications(request: Request) -> Response:
    account = await require_account(request)
    services: Services = request.state.services
    max_id = query_id(request, "max_id")
    query = select(Notification).where(shown_to(account))
    if max_id is not None:
        query = query.where(col(Notification.id) < max_id)
    async with services.db.session() as session:
        rows = list(await session.scalars(query.order_by(col(Notification.id).desc()).limit(PAGE_SIZE)))
        actor_ids = {row.actor_id for row in rows if row.actor_id is not None}
        actors = {a.id: a for a in await session.scalars(select(Actor).where(col(Actor.id).in_(actor_ids)))}
        post_ids = list(dict.fromkeys(row.post_id for row in rows if row.post_id is not None))
        cards = {
            c.post.id: c
            for c in await load_cards(session, services.urls, [Entry(i, i) for i in post_ids], account.actor_id)
        }
        me = await session.get(Actor, account.actor_id)
        assert me is not None
        new_ids = {
            actor.moved_to_ap_id
            for row in rows
            if row.type == NotificationType.MOVE and (actor := actors.get(row.actor_id)) and actor.moved_to_ap_id
        }
        new_accounts = (
            {a.ap_id: a for a in await session.scalars(select(Actor).where(col(Actor.ap_id).in_(new_ids)))}
            if new_ids
            else {}
        )
        views = []
        for row in rows:
            actor = actors.get(row.actor_id) if row.actor_id else None
            pending = False
            if row.type == NotificationType.FOLLOW_REQUEST and actor is not None:
                follow = await find_follow(session, actor, me)
                pending = follow is not None and follow.state == FollowState.PENDING
            moved_to = new_accounts.get(actor.moved_to_ap_id or "") if actor is not None else None
            card = cards.get(row.post_id) if row.post_id else None
            views.append(NotificationView(row, actor, card, pending, moved_to))
    response = await render_page(
        request,
        "notifications.html",
        {
            "items": views,
            "next_url": f"/notifications?max_id={rows[-1].id}" if len(rows) == PAGE_SIZE else None,
        },
    )
    if rows and max_id is None:  # what arrives after this page was drawn stays unread
        async with services.db.transaction() as session:
            await session.execute(
                update(Notification)
                .where(
                    col(Notification.account_id) == account.id,
                    col(Notification.read_at).is_(None),
                    col(Notification.id) <= (rows[0].id or 0),
                )
                .values(read_at=utcnow())
            )
    return response


routes = [
    Route("/notifications", notifications),
]

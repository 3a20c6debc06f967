"""HTML pages of the public face: the start page and profiles (``/@{name}``)."""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.instance import get_instance_settings
from fediverse.rendering import render_page
from fediverse.responses import wants_activity_json
from fediverse.routes.actors import actor_response, is_barebones_read, load_account
from fediverse.services import Services
from storage.models import Follow, FollowState, Post, Visibility


async def profile(request: Request) -> Response:
    services: Services = request.state.services
    username = request.path_params["username"].lower()
    if wants_activity_json(request):
        return await actor_response(services, username, barebones=await is_barebones_read(request))
    async with services.db.session() as session:
        account, actor = await load_account(session, username)
        accepted = Follow.state == FollowState.ACCEPTED
        counts = {
            "posts": await session.scalar(
                select(func.count())
                .select_from(Post)
                .where(Post.author_id == actor.id, Post.deleted_at.is_(None), Post.visibility == Visibility.PUBLIC)
            ),
            "followers": await session.scalar(
                select(func.count()).select_from(Follow).where(Follow.followee_id == actor.id, accepted)
            ),
            "following": await session.scalar(
                select(func.count()).select_from(Follow).where(Follow.follower_id == actor.id, accepted)
            ),
        }
    return await render_page(
        request,
        "profile.html",
        {"account": account, "actor": actor, "counts": counts, "host": services.urls.host},
        headers={"Vary": "Accept"},
    )


async def about(request: Request) -> Response:
    services: Services = request.state.services
    async with services.db.session() as session:
        instance = await get_instance_settings(session, services.settings)
    return await render_page(request, "about.html", {"instance": instance})


routes = [
    Route("/@{username}", profile),
    Route("/about", about),
]

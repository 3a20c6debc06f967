"""The HTML pages people use, in matching order (post pages before profile sub-pages)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fediverse.web.pages import (
    admin,
    compose,
    feeds,
    filters,
    lists,
    notifications,
    portability,
    posts,
    profiles,
    safety,
    search,
    session,
    settings,
)

routes: list[BaseRoute] = [
    *session.routes,
    *feeds.routes,
    *lists.routes,
    *compose.routes,
    *notifications.routes,
    *search.routes,
    *settings.routes,
    *filters.routes,
    *portability.routes,
    *safety.routes,
    *admin.routes,
    *posts.routes,
    *profiles.routes,
]

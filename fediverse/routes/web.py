"""The HTML pages people use, in matching order (post pages before profile sub-pages)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fediverse.routes import (
    admin,
    compose,
    feeds,
    notifications,
    post_pages,
    profiles,
    safety,
    search,
    session,
    settings,
)

routes: list[BaseRoute] = [
    *session.routes,
    *feeds.routes,
    *compose.routes,
    *notifications.routes,
    *search.routes,
    *settings.routes,
    *safety.routes,
    *admin.routes,
    *post_pages.routes,
    *profiles.routes,
]

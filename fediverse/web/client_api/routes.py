"""Every route of the client API, one list per module."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fediverse.web.client_api import (
    apps,
    generations,
    markers,
    media,
    notifications,
    oauth,
    status_actions,
    statuses,
    timelines,
)

routes: list[BaseRoute] = [
    *apps.routes,
    *oauth.routes,
    *statuses.routes,
    *status_actions.routes,
    *timelines.routes,
    *media.routes,
    *generations.routes,
    *notifications.routes,
    *markers.routes,
]

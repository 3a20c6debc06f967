"""Every route of the client API, one list per module."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fediverse.web.client_api import apps, oauth, status_actions, statuses, timelines

routes: list[BaseRoute] = [
    *apps.routes,
    *oauth.routes,
    *statuses.routes,
    *status_actions.routes,
    *timelines.routes,
]

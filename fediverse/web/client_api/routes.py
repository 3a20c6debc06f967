"""Every route of the client API, one list per module."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fediverse.web.client_api import status_actions, statuses, timelines

routes: list[BaseRoute] = [*statuses.routes, *status_actions.routes, *timelines.routes]

"""Every route of the client API, one list per module."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fediverse.web.client_api import generations, markers, media, notifications

routes: list[BaseRoute] = [*media.routes, *generations.routes, *notifications.routes, *markers.routes]

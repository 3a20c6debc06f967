"""Every route of the client API, one list per module."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fediverse.web.client_api import streaming

routes: list[BaseRoute] = [*streaming.routes]

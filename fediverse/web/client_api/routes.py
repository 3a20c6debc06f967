"""Every route of the client API, one list per module."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fediverse.web.client_api import accounts, instance, relationships, search, stubs

routes: list[BaseRoute] = [
    *instance.routes,
    *search.routes,
    *relationships.routes,
    *accounts.routes,
    *stubs.routes,
]

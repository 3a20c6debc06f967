"""Every route of the client API, one list per module."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []

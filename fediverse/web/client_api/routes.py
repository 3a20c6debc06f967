"""Every route of the client API, one list per module."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fediverse.web.client_api import (
    accounts,
    apps,
    filters,
    generations,
    instance,
    lists,
    markers,
    media,
    notification_groups,
    notification_policy,
    notifications,
    oauth,
    relationships,
    search,
    status_actions,
    statuses,
    streaming,
    stubs,
    timelines,
)

routes: list[BaseRoute] = [
    *apps.routes,
    *oauth.routes,
    *instance.routes,
    *search.routes,
    *relationships.routes,
    *accounts.routes,
    *statuses.routes,
    *status_actions.routes,
    *timelines.routes,
    *lists.routes,
    *filters.routes,
    *media.routes,
    *generations.routes,
    *notifications.routes,
    *notification_policy.routes,
    *notification_groups.routes,
    *markers.routes,
    *stubs.routes,
    *streaming.routes,
]

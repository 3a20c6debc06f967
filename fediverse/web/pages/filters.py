"""Settings → Filters (``/settings/filters``): the viewer's custom filters — keywords, where they apply, and
whether a matching post is shown behind a warning or hidden — made and removed here, kept in the same rows
the apps' ``/api/v2/filters`` use (``fediverse.social.filters``). Our feeds apply them (``feeds.render_feed``).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.errors import BadRequest
from fediverse.reads.filters import CONTEXTS
from fediverse.services import Services
from fediverse.social import filters
from fediverse.web.pages.forms import checkbox, see_other, signed_in_form, text_field
from fediverse.web.params import path_id
from fediverse.web.rendering import render_page
from fediverse.web.sessions import require_account
from storage.models import CustomFilter, FilterKeyword
from storage.types import utcnow

CONTEXT_NAMES = {
    "home": "Home and lists",
    "notifications": "Notifications",
    "public": "Local, federated and hashtags",
    "thread": "Conversations",
    "account": "Profiles",
}
ACTION_NAMES = {"warn": "Show behind a warning", "hide": "Hide completely"}
EXPIRIES = {
    "": "Never",
    "1800": "30 minutes",
    "3600": "1 hour",
    "43200": "12 hours",
    "86400": "1 day",
    "604800": "1 week",
}
MAX_KEYWORDS_TYPED = 50


async def filters_page(request: Request) -> Response:
    """``GET``: the filters and a form for a new one; ``POST`` makes it (one keyword a line)."""
    services: Services = request.state.services
    if request.method == "POST":
        account, form = await signed_in_form(request)
        typed = text_field(
            form, "keywords", max_length=MAX_KEYWORDS_TYPED * (filters.MAX_KEYWORD + 1), label="Keywords"
        )
        words = [line.strip() for line in typed.splitlines() if line.strip()][:MAX_KEYWORDS_TYPED]
        if not words:
            raise BadRequest("Give at least one keyword.")
        expiry = text_field(form, "expires_in", max_length=10)
        if expiry not in EXPIRIES:
            raise BadRequest("Choose when the filter ends.")
        action = text_field(form, "action", max_length=8) or "warn"
        fields = filters.FilterFields(
            title=text_field(form, "title", max_length=filters.MAX_TITLE, label="Title")
            or words[0][: filters.MAX_TITLE],
            context=[name for name in CONTEXTS if checkbox(form, f"context_{name}")],
            action=action,
            change_expiry=True,
            expires_at=utcnow() + timedelta(seconds=int(expiry)) if expiry else None,
        )
        whole_word = checkbox(form, "whole_word")
        changes = [filters.KeywordChange(keyword=word, whole_word=whole_word) for word in words]
        account_id = account.id or 0
        await services.db.write(lambda session: filters.create_filter(session, account_id, fields, changes))
        return see_other("/settings/filters")
    account = await require_account(request)
    account_id = account.id or 0

    def load(session: Session) -> list[tuple[CustomFilter, list[FilterKeyword]]]:
        rows = filters.filters_of(session, account_id)
        keywords = filters.keywords_of(session, [row.id for row in rows])
        return [(row, [item for item in keywords if item.filter_id == row.id]) for row in rows]

    return await render_page(
        request,
        "settings_filters.html",
        {
            "filters": await services.db.read(load),
            "contexts": CONTEXT_NAMES,
            "actions": ACTION_NAMES,
            "expiries": EXPIRIES,
            "now": utcnow(),
        },
    )


async def delete_filter(request: Request) -> Response:
    services: Services = request.state.services
    account, _ = await signed_in_form(request)
    filter_id, account_id = path_id(request), account.id or 0
    await services.db.write(lambda session: filters.delete_filter(session, account_id, filter_id))
    return see_other("/settings/filters")


routes = [
    Route("/settings/filters", filters_page, methods=["GET", "POST"]),
    Route("/settings/filters/{id:id}/delete", delete_filter, methods=["POST"]),
]

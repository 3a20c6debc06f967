"""HTML rendering: the Jinja2 environment and the context every page shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from pathlib import Path
from typing import Any

from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from fediverse.core.instance_settings import instance_settings
from fediverse.reads.cards import avatar_url, handle_path, header_url
from fediverse.reads.emoji import emojify_html, emojify_text
from fediverse.services import Services
from fediverse.social.notifications import shown_to
from fediverse.web.anonymous_cache import KEEP, SHAREABLE
from fediverse.web.sessions import current_session
from storage.models import Account, Actor, Notification
from storage.types import utcnow

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, as the page header shows them."""

    account: Account
    actor: Actor
    csrf_token: str
    unread: int


def format_ago(moment: datetime | None, now: datetime | None = None) -> str:
    """``5 s``, ``3 min``, ``2 h``, ``4 d``, then a date: the compact form feeds use."""
    if moment is None:
        return ""
    seconds = max(0, int(((now or utcnow()) - moment).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    if seconds < 7 * 86400:
        return f"{seconds // 86400} d"
    return moment.strftime("%-d %b %Y")


def format_count(value: int) -> str:
    if value < 1000:
        return str(value)
    if value < 1_000_000:
        return f"{value / 1000:.1f}".rstrip("0").rstrip(".") + "K"
    return f"{value / 1_000_000:.1f}".rstrip("0").rstrip(".") + "M"


def hue_of(text: object) -> int:
    """One of six placeholder colours, stable for a name (avatars and mood tiles without an image)."""
    return sum(map(ord, str(text))) % 6


@cache
def create_templates() -> Jinja2Templates:
    """The template environment; autoescaping is on for every ``.html`` template. One per process, so
    that every app in it (the test suite starts hundreds) reuses the templates Jinja compiled."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.filters["ago"] = format_ago
    templates.env.filters["count"] = format_count
    templates.env.filters["hue"] = hue_of
    return templates


def _viewer_rows(session: Session, *, account: Account) -> tuple[Actor | None, int | None]:
    """The signed-in account's actor and its unread notifications, in one unit of work."""
    actor = session.get(Actor, account.actor_id)
    unread = session.scalar(
        select(func.count()).select_from(Notification).where(shown_to(account), col(Notification.read_at).is_(None))
    )
    return actor, unread


async def load_viewer(request: Request) -> Viewer | None:
    found = await current_session(request)
    if found is None:
        return None
    web_session, account = found
    services: Services = request.state.services
    actor, unread = await services.db.read(partial(_viewer_rows, account=account))
    assert actor is not None
    return Viewer(account=account, actor=actor, csrf_token=web_session.csrf_token, unread=unread or 0)


async def render_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    shareable: bool = False,
) -> Response:
    """``shareable``: rendered for a reader who is not signed in, the page is the same for all of them
    and may be kept briefly for the next (``fediverse.web.anonymous_cache``)."""
    services: Services = request.state.services
    instance = await instance_settings(services.db, services.settings)
    templates: Jinja2Templates = request.app.state.templates
    viewer = await load_viewer(request)
    base = {
        "instance_name": instance.name,
        "instance": instance,
        "viewer": viewer,
        "csrf_token": viewer.csrf_token if viewer else "",
        "local_host": services.urls.host,
        "handle_path": lambda actor: handle_path(actor, services.urls.host),
        "avatar_url": lambda actor: avatar_url(actor, services.urls),
        "header_url": lambda actor: header_url(actor, services.urls),
        # Remote custom emoji drawn in sanitised HTML (content, bios) and in names (escaped first).
        "rich_html": lambda html, emojis: Markup(emojify_html(html or "", emojis, services.urls)),
        "shown_name": lambda actor: Markup(
            emojify_text(actor.display_name or actor.username, actor.emojis, services.urls)
        ),
        "path": request.url.path,
    }
    return templates.TemplateResponse(
        request,
        template,
        {**base, **context},
        status_code=status_code,
        headers={
            "Cache-Control": "private, no-store" if viewer else "no-cache",
            **(headers or {}),
            **({SHAREABLE: KEEP} if shareable and viewer is None else {}),
        },
    )

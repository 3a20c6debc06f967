"""HTML rendering: the Jinja2 environment and the context every page shares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from fediverse.instance import get_instance_settings
from fediverse.services import Services

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def create_templates() -> Jinja2Templates:
    """The template environment; autoescaping is on for every ``.html`` template."""
    return Jinja2Templates(directory=str(TEMPLATES_DIR))


async def render_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    services: Services = request.state.services
    async with services.db.session() as session:
        instance = await get_instance_settings(session, services.settings)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        template,
        {"instance_name": instance.name, **context},
        status_code=status_code,
        headers=headers,
    )

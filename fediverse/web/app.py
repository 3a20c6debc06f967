"""The web application: routes, the one table that maps errors to HTTP, and lifespan-owned resources."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from activitypub.errors import ActivityPubError, DigestError, FetchError, InvalidDocumentError, SignatureError
from fediverse.core.config import Settings, load_settings
from fediverse.core.data_folder import keep_new_files_private
from fediverse.core.errors import ReverieError, ServiceUnavailable
from fediverse.core.logs import configure_logging
from fediverse.federation.inbox.intake import InboxIntake
from fediverse.services import open_services
from fediverse.web import media, operations
from fediverse.web.activitypub import actors, inbox, labels, objects, wellknown
from fediverse.web.anonymous_cache import AnonymousCacheMiddleware
from fediverse.web.api import generation, publishing
from fediverse.web.api import media as media_api
from fediverse.web.client_api import routes as client_api_routes
from fediverse.web.client_api.cors import ClientApiCorsMiddleware
from fediverse.web.client_api.stream_hub import StreamHub
from fediverse.web.headers import SecurityHeadersMiddleware
from fediverse.web.pages import page_routes
from fediverse.web.rate_limits import HostRateLimit, SignInThrottle
from fediverse.web.rendering import STATIC_DIR, create_templates
from fediverse.web.responses import JSONResponse, wants_json
from fediverse.worker.queues import open_worker
from storage.db import UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)


def _routes() -> list[BaseRoute]:
    return [
        *operations.routes,
        *wellknown.routes,
        *inbox.routes,
        *actors.routes,
        *objects.routes,
        *labels.routes,
        *page_routes.routes,
        *media.routes,
        *generation.routes,
        *media_api.routes,
        *publishing.routes,
        *client_api_routes.routes,
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]


def _error_response(
    request: Request, status_code: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    """The body of every error: JSON for programs, a page for browsers. Never a stack trace."""
    if wants_json(request):
        return JSONResponse({"error": message}, status_code=status_code, headers=headers)
    templates: Jinja2Templates = request.app.state.templates
    services = getattr(request.state, "services", None)
    instance_name = services.settings.instance_name if services else "Reverie"
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status_code": status_code, "message": message, "instance_name": instance_name},
        status_code=status_code,
        headers=headers,
    )


async def _on_reverie_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ReverieError)
    retry_after = getattr(error, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    if error.status_code >= 500:
        log.error("%s: %s", type(error).__name__, error.detail)
    return _error_response(request, error.status_code, str(error), headers)


async def _on_http_exception(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    message = {404: "Not found.", 405: "Method not allowed."}.get(error.status_code, str(error.detail))
    return _error_response(request, error.status_code, message, dict(error.headers or {}))


#: ActivityPub errors a request can cause, by HTTP status (a peer's bad signature is its 401, …).
_PROTOCOL_STATUS: tuple[tuple[type[ActivityPubError], int], ...] = (
    (SignatureError, 401),
    (DigestError, 401),
    (InvalidDocumentError, 400),
    (FetchError, 502),
)


async def _on_protocol_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ActivityPubError)
    status = next((code for kind, code in _PROTOCOL_STATUS if isinstance(error, kind)), 400)
    log.info("%s %s -> %d %s (%s)", request.method, request.url.path, status, error, error.detail)
    return _error_response(request, status, str(error))


async def _on_database_unavailable(request: Request, error: Exception) -> Response:
    """The database is locked past the busy timeout, restarting, or out of connections: 503, retry soon.
    Nothing is half-written: the failed transaction rolled back."""
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, error)
    return await _on_reverie_error(request, ServiceUnavailable("The database is busy; please try again shortly."))


async def _on_unexpected(request: Request, error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return PlainTextResponse("Internal server error.", status_code=500)


EXCEPTION_HANDLERS: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    ReverieError: _on_reverie_error,
    ActivityPubError: _on_protocol_error,
    **dict.fromkeys(UNAVAILABLE_ERRORS, _on_database_unavailable),
    HTTPException: _on_http_exception,
    Exception: _on_unexpected,
}


def create_app(settings: Settings) -> Starlette:
    """The ASGI application for ``settings``. Resources open in the lifespan, not here."""

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with (
            open_services(settings) as services,
            open_worker(services) as worker,
            InboxIntake(services.db) as inbox_writer,
            StreamHub(services) as stream_hub,
        ):
            services.wake_worker = worker.wake
            services.yield_to_requests = inbox_writer.wait_until_quiet
            stop = asyncio.Event()
            task = asyncio.create_task(worker.run_forever(stop)) if settings.run_worker else None
            try:
                yield {"services": services, "worker": worker, "inbox_writer": inbox_writer, "stream_hub": stream_hub}
            finally:
                stop.set()
                if task is not None:
                    await task

    app = Starlette(
        routes=_routes(),
        lifespan=lifespan,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[
            Middleware(operations.RequestMetricsMiddleware),
            Middleware(ClientApiCorsMiddleware),
            Middleware(SecurityHeadersMiddleware, base_url=settings.base_url),
            Middleware(AnonymousCacheMiddleware),
        ],
    )
    app.state.templates = create_templates()
    app.state.login_throttle = SignInThrottle()
    app.state.inbox_rate = HostRateLimit(settings.inbox_rate_per_second, settings.inbox_rate_burst)
    return app


def create_app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory`` and multi-process serving: settings from the environment."""
    keep_new_files_private()
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)  # a fresh process: `reverie serve`'s set-up is not here
    return create_app(settings)

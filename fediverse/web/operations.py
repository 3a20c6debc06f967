"""For the people and programs that run the instance: ``GET /healthz``, ``GET /metrics``, and the
middleware that counts, times and logs every request (docs/decisions/0055).

``/healthz`` answers 200 when the database answers and its schema is this version's, 503 naming the
failed check otherwise; never cached, nothing in it about where the database is. ``/metrics`` is the
Prometheus text format from ``prometheus-client``: the process's counters (every web process's, in
multi-process mode) and the health numbers read from the database at scrape time. It is served only when
``REVERIE_METRICS_TOKEN`` is set, and only to ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fediverse.core.errors import NotFound
from fediverse.core.metrics import HTTP_DURATION, HTTP_REQUESTS, method_label, multiprocess_folder
from fediverse.reads.health import HealthReport, check_liveness, collect_health
from fediverse.services import Services
from fediverse.web.responses import JSONResponse

request_log = logging.getLogger("reverie.requests")

NEVER_CACHE = {"Cache-Control": "no-store"}
#: The route label of requests no route matched: one series, however many paths scanners try.
UNMATCHED = "unmatched"


class RequestMetricsMiddleware:
    """Counts each HTTP request by method, route template and status, times it into a histogram, and logs
    one line for it. Pure ASGI, and the metric children of each (method, route, status) are looked up once:
    ``labels()`` validates and locks on every call (bench/bench_request_metrics.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the application fails before answering

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            elapsed = time.perf_counter() - started
            method, route = method_label(scope["method"]), route_label(scope)
            key = (method, route, status)
            children = self._children.get(key)
            if children is None:  # bounded: methods, route templates and our own status codes
                children = (HTTP_REQUESTS.labels(method, route, str(status)), HTTP_DURATION.labels(method, route))
                self._children[key] = children
            children[0].inc()
            children[1].observe(elapsed)
            if request_log.isEnabledFor(logging.INFO):
                _log_request(scope, method, route, status, elapsed)


def route_label(scope: Scope) -> str:
    """The template of the route that answered (``/users/{username}``), never the raw path."""
    route = scope.get("route")
    if isinstance(route, Mount):
        return route.path + "/{path}"
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def _log_request(scope: Scope, method: str, route: str, status: int, elapsed: float) -> None:
    client = scope.get("client")
    address = client[0] if client else "-"
    ms = round(elapsed * 1000, 1)
    request_log.info(
        "%s %s %d %.1fms route=%s client=%s",
        method,
        scope["path"],
        status,
        ms,
        route,
        address,
        extra={"method": method, "path": scope["path"], "route": route, "status": status, "ms": ms, "client": address},
    )


async def healthz(request: Request) -> Response:
    services: Services = request.state.services
    liveness = await check_liveness(services.db)
    return JSONResponse(liveness.as_json(), status_code=200 if liveness.ok else 503, headers=NEVER_CACHE)


async def metrics(request: Request) -> Response:
    services: Services = request.state.services
    token = services.settings.metrics_token
    if token is None:
        raise NotFound("Not found.")
    scheme, _, offered = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(offered.strip().encode(), token.encode()):
        return PlainTextResponse(
            "A valid bearer token is required.", status_code=401, headers={"WWW-Authenticate": "Bearer", **NEVER_CACHE}
        )
    report = await collect_health(services.db, services.settings.media_dir)
    body = await asyncio.to_thread(exposition, report)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers=NEVER_CACHE)


def exposition(report: HealthReport) -> bytes:
    """The counters of this process (or of every process sharing the multi-process folder), then the
    numbers read from the database for this scrape."""
    folder = multiprocess_folder()
    if folder is None:
        counters = generate_latest(REGISTRY)
    else:
        shared = CollectorRegistry()
        MultiProcessCollector(shared, path=str(folder))  # type: ignore[no-untyped-call]
        counters = generate_latest(shared)
    now = CollectorRegistry(auto_describe=False)
    now.register(HealthCollector(report))
    return counters + generate_latest(now)


class HealthCollector(Collector):
    """The health report of one scrape as gauges (queues, failing hosts, media, database and schema)."""

    def __init__(self, report: HealthReport) -> None:
        self.report = report

    def collect(self) -> Iterable[Metric]:
        report = self.report
        yield GaugeMetricFamily(
            "reverie_database_up",
            "1 when the database answered the health query.",
            value=float(report.liveness.database.ok),
        )
        yield GaugeMetricFamily(
            "reverie_migrations_current",
            "1 when the database's schema is the newest this version ships.",
            value=float(report.liveness.migrations.ok),
        )
        families = {
            "waiting": GaugeMetricFamily(
                "reverie_queue_waiting",
                "Work rows still to do (due, scheduled for retry, or in progress).",
                labels=["queue"],
            ),
            "due": GaugeMetricFamily("reverie_queue_due", "Work rows due now that no worker holds.", labels=["queue"]),
            "in_progress": GaugeMetricFamily(
                "reverie_queue_in_progress",
                "Work rows a worker holds now (generation: jobs running).",
                labels=["queue"],
            ),
            "oldest": GaugeMetricFamily(
                "reverie_queue_oldest_due_age_seconds",
                "How long the oldest due, unclaimed row has waited (0 when none is due).",
                labels=["queue"],
            ),
        }
        for queue in report.queues:
            families["waiting"].add_metric([queue.name], queue.waiting)
            families["due"].add_metric([queue.name], queue.due)
            families["in_progress"].add_metric([queue.name], queue.in_progress)
            families["oldest"].add_metric([queue.name], queue.oldest_due_seconds or 0.0)
        yield from families.values()
        yield GaugeMetricFamily(
            "reverie_failing_hosts", "Remote hosts whose last deliveries all failed.", value=report.failing_hosts_total
        )
        hosts = GaugeMetricFamily(
            "reverie_host_consecutive_failures",
            "Consecutive delivery failures of the worst failing hosts (at most ten are listed).",
            labels=["host"],
        )
        for host in report.failing_hosts:
            hosts.add_metric([host.host], host.consecutive_failures)
        yield hosts
        yield GaugeMetricFamily("reverie_media_bytes", "Disk used by the media folder.", value=report.media.bytes)
        yield GaugeMetricFamily("reverie_media_files", "Files in the media folder.", value=report.media.files)


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]

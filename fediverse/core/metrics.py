"""The process's Prometheus counters and histograms (``prometheus-client``; docs/decisions/0055).

Code that does the work counts it here: the web middleware (requests), the inbox (accepted, processed),
the delivery worker (outcomes), generation (jobs and their duration), remote fetches. Numbers that are
a state of the database (backlogs, the oldest waiting item, failing hosts) are not counted but read
when ``/metrics`` is scraped (``fediverse.reads.health``).

Every label has a small, fixed set of values: routes are templates (``/users/{username}``, never the
raw path), methods and outcomes come from short lists, so a scanner cannot create new series.

With ``PROMETHEUS_MULTIPROC_DIR`` set before the process starts (``reverie serve --workers N`` does it),
``prometheus-client`` keeps these values in files there and ``/metrics`` adds up every process's.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter as Tally
from pathlib import Path

from prometheus_client import Counter, Histogram

#: The environment variable ``prometheus-client`` reads at import to keep values in shared files.
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# In multi-process mode every value is a file in that folder, made as the metric below is: the folder
# must exist first (``reverie serve --workers N`` prepares it; an admin's own setting may name a new one).
if _shared := os.environ.get(MULTIPROCESS_VARIABLE):
    Path(_shared).mkdir(mode=0o700, parents=True, exist_ok=True)

#: Methods counted under their own name; anything else is ``other``.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "reverie_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "reverie_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method and route template.",
    ["method", "route"],
)
INBOX_ACCEPTED = Counter("reverie_inbox_accepted", "Signed activities stored by the inbox (answered 202).")
INBOX_PROCESSED = Counter(
    "reverie_inbox_processed",
    "Inbox items the worker tried to apply, by outcome: applied, retry (due again later) or failed (given up).",
    ["outcome"],
)
DELIVERIES = Counter(
    "reverie_deliveries",
    "Delivery attempts, by outcome: sent, retry (due again later), failed (given up or refused for good), gone (410).",
    ["outcome"],
)
THREAD_FETCHES = Counter(
    "reverie_thread_fetches", "Thread fetches (missing parents, replies) by outcome: done, retry, failed.", ["outcome"]
)
REMOTE_MEDIA_FETCHES = Counter(
    "reverie_remote_media_fetches",
    "Remote files fetched into the media cache, by outcome: done, retry, failed (refused or given up).",
    ["outcome"],
)
REMOTE_FETCHES = Counter(
    "reverie_remote_fetches",
    "Outbound GETs of remote documents and WebFinger lookups, by kind and outcome (ok or error).",
    ["kind", "outcome"],
)
GENERATION_JOBS = Counter("reverie_generation_jobs_finished", "Generation jobs that ended, by final state.", ["state"])
GENERATION_DURATION = Histogram(
    "reverie_generation_job_duration_seconds",
    "How long generation jobs ran (painting and storing the images), by final state.",
    ["state"],
    buckets=(0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600),
)


def report_work(
    log: logging.Logger, queue: str, outcomes: Counter, tally: Tally[str], items: int, started: float
) -> None:
    """A unit of background work done: count its outcomes and log one line with its time (``started`` is
    a ``time.perf_counter()`` reading)."""
    for outcome, count in tally.items():
        outcomes.labels(outcome).inc(count)
    log.info(
        "%s: %d items in %.1fms %s",
        queue,
        items,
        (time.perf_counter() - started) * 1000,
        dict(tally),
        extra={"queue": queue, "items": items, "outcomes": dict(tally)},
    )


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "other"


def multiprocess_folder() -> Path | None:
    """The shared folder when this process runs in ``prometheus-client``'s multi-process mode."""
    folder = os.environ.get(MULTIPROCESS_VARIABLE)
    return Path(folder) if folder else None


def prepare_multiprocess_folder(folder: Path) -> None:
    """Create ``folder`` private (0700) and remove the value files of processes no longer running: each
    process writes ``<kind>_<pid>.db`` files, and a new run must not add a dead run's numbers to its own
    (Prometheus reads the drop as a counter reset). Files of live processes (a ``reverie worker`` sharing
    the folder) stay."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    for path in folder.glob("*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _running(int(pid)):
            path.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

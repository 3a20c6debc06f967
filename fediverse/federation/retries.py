"""How the worker's fetching queues (inbox items, thread fetches) judge a failure and record an attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from activitypub.delivery import compute_backoff
from activitypub.errors import ActivityPubError, FetchError, GoneError, InvalidDocumentError, UnsafeAddressError
from fediverse.core.errors import ReverieError
from storage.db import UNAVAILABLE_ERRORS
from storage.models import WorkState

#: Failures that asking again will not change, and those that it may (a peer down, a database busy).
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    InvalidDocumentError,
    UnsafeAddressError,
    GoneError,
    ReverieError,
    ValueError,
    KeyError,
    TypeError,
)
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    FetchError,
    ActivityPubError,
    httpx.HTTPError,
    OSError,
    TimeoutError,
    *UNAVAILABLE_ERRORS,
)


def is_final(failure: BaseException) -> bool:
    """Whether asking again cannot help: a permanent failure, or an object its own server says does not
    exist (it will not appear by asking again)."""
    return isinstance(failure, PERMANENT_ERRORS) or (isinstance(failure, FetchError) and failure.status == 404)


def attempt_change(
    row_id: int | None,
    attempts_before: int,
    error: BaseException | None,
    *,
    max_attempts: int,
    now: datetime,
    done_column: str,
) -> dict[str, Any]:
    """The bulk-UPDATE values after one attempt: done (``done_column`` set to ``now``); failed (``is_final``,
    or out of attempts); or due again after a backoff. ``last_error`` keeps the reason."""
    attempts = attempts_before + 1
    change: dict[str, Any] = {"id": row_id, "attempts": attempts, "locked_until": None}
    if error is None:
        return {**change, "state": WorkState.DONE, done_column: now}
    change["last_error"] = f"{type(error).__name__}: {error}"[:2000]
    if is_final(error) or attempts >= max_attempts:
        return {**change, "state": WorkState.FAILED}
    return {**change, "next_attempt_at": now + compute_backoff(attempts)}

"""Delivery: who gets a POST, what one POST looks like to the peer, how its answer is read, when we
try again, and the per-host client pool."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from activitypub import errors
from activitypub.delivery import (
    EXCERPT_BYTES,
    MAX_ATTEMPTS,
    DeliveryClients,
    DeliveryOutcome,
    InboxTarget,
    Recipient,
    classify_exception,
    classify_response,
    compute_backoff,
    compute_host_backoff_until,
    deliver_activity,
    extract_inboxes,
    is_host_unavailable,
    next_retry_delay,
    parse_retry_after,
    read_recipient,
)
from activitypub.signatures import parse_signature_header, verify_request
from tests.activitypub.conftest import KEY_ID, FakeKeyResolver

PUBLIC_IP = "93.184.216.34"
BODY = b'{"type":"Create","id":"https://local.example/notes/1/activity"}'
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

# -- grouping ------------------------------------------------------------------------------


def test_extract_inboxes_groups_by_shared_inbox() -> None:
    recipients = [
        Recipient("https://m.example/users/a", "https://m.example/users/a/inbox", "https://m.example/inbox"),
        Recipient("https://gts.example/users/c", "https://gts.example/users/c/inbox"),
        Recipient("https://m.example/users/b", "https://m.example/users/b/inbox", "https://m.example/inbox"),
        Recipient("https://m.example/users/a", "https://m.example/users/a/inbox", "https://m.example/inbox"),
    ]
    assert extract_inboxes(recipients) == [
        InboxTarget("https://m.example/inbox", ("https://m.example/users/a", "https://m.example/users/b"), True),
        InboxTarget("https://gts.example/users/c/inbox", ("https://gts.example/users/c",), False),
    ]
    assert [target.inbox_url for target in extract_inboxes(recipients, prefer_shared=False)] == [
        "https://m.example/users/a/inbox",
        "https://gts.example/users/c/inbox",
        "https://m.example/users/b/inbox",
    ]


def test_read_recipient() -> None:
    assert read_recipient(
        {
            "id": "https://m.example/users/a",
            "inbox": "https://m.example/users/a/inbox",
            "endpoints": {"sharedInbox": "https://m.example/inbox"},
        }
    ) == Recipient("https://m.example/users/a", "https://m.example/users/a/inbox", "https://m.example/inbox")
    assert read_recipient(
        {
            "id": "https://p.example/u/a",
            "inbox": "https://p.example/u/a/inbox",
            "sharedInbox": "https://p.example/f/inbox",
        }
    ) == Recipient("https://p.example/u/a", "https://p.example/u/a/inbox", "https://p.example/f/inbox")
    assert read_recipient({"id": "https://x.example/u", "type": "Person"}) is None


# -- classification ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, "sent"),
        (202, "sent"),
        (204, "sent"),
        (301, "retry"),
        (400, "drop"),
        (401, "retry"),
        (403, "drop"),
        (404, "drop"),
        (408, "retry"),
        (410, "gone"),
        (413, "drop"),
        (422, "drop"),
        (429, "retry"),
        (500, "retry"),
        (501, "drop"),
        (502, "retry"),
        (503, "retry"),
    ],
)
def test_classification_table(status: int, kind: str) -> None:
    assert classify_response(status).kind == kind


def test_retry_after_is_kept_only_for_429_and_503() -> None:
    wait = timedelta(seconds=90)
    assert classify_response(429, retry_after=wait).retry_after == wait
    assert classify_response(503, retry_after=wait).retry_after == wait
    assert classify_response(500, retry_after=wait).retry_after is None


def test_exceptions() -> None:
    request = httpx.Request("POST", "https://x.example/inbox")
    assert classify_exception(httpx.ConnectError("refused", request=request)).kind == "retry"
    assert classify_exception(httpx.ReadTimeout("slow", request=request)).reason == "timed out"
    assert classify_exception(errors.UnsafeAddressError("private", url="https://x")).kind == "drop"
    with pytest.raises(ValueError):
        classify_exception(ValueError("a bug is not a network error"))


def test_outcome_as_error() -> None:
    error = DeliveryOutcome("drop", 403, "inbox refused with 403", body_excerpt="no").to_error("https://x/inbox")
    assert (error.inbox_url, error.status, error.body_excerpt) == ("https://x/inbox", 403, "no")


# -- retry schedule -------------------------------------------------------------------------


def schedule(rng: Callable[[], float]) -> list[timedelta]:
    return [delay for n in range(1, MAX_ATTEMPTS) if (delay := next_retry_delay(n, rng=rng)) is not None]


def test_schedule_spans_about_two_days_in_sixteen_attempts() -> None:
    nominal = schedule(lambda: 0.5)
    assert len(nominal) == MAX_ATTEMPTS - 1
    assert nominal[0] == timedelta(seconds=30)
    assert all(a <= b for a, b in itertools.pairwise(nominal))
    assert timedelta(hours=44) <= sum(nominal, timedelta()) <= timedelta(hours=52)
    assert max(nominal) == timedelta(hours=8)
    assert next_retry_delay(MAX_ATTEMPTS, rng=lambda: 0.5) is None


@pytest.mark.parametrize("rng", [0.0, 0.25, 0.999999])
def test_jitter_stays_within_twenty_percent(rng: float) -> None:
    for n in range(1, MAX_ATTEMPTS):
        nominal = compute_backoff(n, rng=lambda: 0.5)
        jittered = compute_backoff(n, rng=lambda: rng)
        assert nominal * 0.8 <= jittered <= nominal * 1.2
    total = sum(schedule(lambda: rng), timedelta())
    assert timedelta(hours=38) <= total <= timedelta(hours=59)


def test_retry_after_lengthens_never_shortens_and_is_capped() -> None:
    assert next_retry_delay(1, retry_after=timedelta(minutes=10), rng=lambda: 0.5) == timedelta(minutes=10)
    assert next_retry_delay(12, retry_after=timedelta(seconds=5), rng=lambda: 0.5) == timedelta(hours=8)
    assert next_retry_delay(1, retry_after=timedelta(days=3), rng=lambda: 0.5) == timedelta(hours=12)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", timedelta(seconds=120)),
        (" 0 ", timedelta(0)),
        ("Fri, 01 May 2026 12:05:00 GMT", timedelta(minutes=5)),
        ("Fri, 01 May 2026 11:00:00 GMT", timedelta(0)),
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


# -- one POST --------------------------------------------------------------------------------


def deliver(
    handler: Callable[[httpx.Request], Any],
    key: rsa.RSAPrivateKey,
    table: dict[str, Sequence[str]] | None = None,
    **options: Any,
) -> DeliveryOutcome:
    async def resolve(host: str, port: int) -> Sequence[str]:
        return (table or {"remote.example": [PUBLIC_IP]})[host]

    async def go() -> DeliveryOutcome:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await deliver_activity(
                client,
                "https://remote.example/inbox",
                BODY,
                key_id=KEY_ID,
                private_key=key,
                user_agent="Reverie/0.1 (+https://local.example/)",
                resolver=resolve,
                **options,
            )

    return asyncio.run(go())


def test_delivery_sends_a_signed_post_the_peer_can_verify(rsa_key: rsa.RSAPrivateKey) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    with ThreadPoolExecutor(max_workers=1) as executor:
        outcome = deliver(handler, rsa_key, signing_executor=executor)
    assert outcome == DeliveryOutcome("sent", 202)
    (request,) = seen
    assert request.method == "POST" and request.url.host == PUBLIC_IP
    assert request.headers["host"] == "remote.example"
    assert request.headers["content-type"] == "application/activity+json"
    assert request.headers["user-agent"].startswith("Reverie/")
    assert request.headers["connection"] != "close"  # per-host clients keep connections alive
    assert request.content == BODY
    params = parse_signature_header(request.headers["signature"])
    assert params["headers"] == "(request-target) host date digest content-type"
    verified = asyncio.run(
        verify_request(
            "POST", "/inbox", dict(request.headers), BODY, resolve_key=FakeKeyResolver(cached=rsa_key.public_key())
        )
    )
    assert verified.key_id == KEY_ID


def test_error_answers_keep_a_bounded_excerpt(rsa_key: rsa.RSAPrivateKey) -> None:
    outcome = deliver(lambda request: httpx.Response(500, content=b"E" * 100_000), rsa_key)
    assert outcome.kind == "retry" and outcome.status == 500
    assert len(outcome.body_excerpt) == EXCERPT_BYTES


def test_gone_and_rate_limited(rsa_key: rsa.RSAPrivateKey) -> None:
    assert deliver(lambda request: httpx.Response(410), rsa_key).kind == "gone"
    limited = deliver(lambda request: httpx.Response(429, headers={"Retry-After": "300"}), rsa_key)
    assert (limited.kind, limited.retry_after) == ("retry", timedelta(minutes=5))


def test_network_failure_is_retried(rsa_key: rsa.RSAPrivateKey) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    assert deliver(refused, rsa_key).kind == "retry"


def test_private_inbox_is_dropped_without_a_request(rsa_key: rsa.RSAPrivateKey) -> None:
    seen: list[httpx.Request] = []
    outcome = deliver(lambda request: seen.append(request), rsa_key, {"remote.example": ["169.254.169.254"]})
    assert outcome.kind == "drop"
    assert seen == []


# -- client pool ---------------------------------------------------------------------------


def test_delivery_clients_are_per_origin_bounded_and_closed() -> None:
    async def go() -> None:
        pool = DeliveryClients(
            max_hosts=2, transport_factory=lambda: httpx.MockTransport(lambda r: httpx.Response(202))
        )
        async with pool.lease("https://a.example/inbox") as a1, pool.lease("https://a.example/users/x/inbox") as a2:
            assert a1 is a2
        async with pool.lease("https://b.example/inbox") as b:
            pass
        async with pool.lease("https://c.example/inbox"):
            # a.example was least recently used and idle: evicted and closed
            assert a1.is_closed and not b.is_closed
            assert len(pool) == 2
        async with pool.lease("https://b.example/inbox") as held, pool.lease("https://d.example/inbox"):
            # b.example is in use, so c.example goes instead
            assert not held.is_closed
        await pool.aclose()
        assert held.is_closed and len(pool) == 0
        with pytest.raises(RuntimeError):
            async with pool.lease("https://e.example/inbox"):
                pass

    asyncio.run(go())


def test_pool_clients_deliver() -> None:
    async def go() -> httpx.Response:
        pool = DeliveryClients(transport_factory=lambda: httpx.MockTransport(lambda r: httpx.Response(202)))
        try:
            async with pool.lease("https://a.example/inbox") as client:
                return await client.post("https://a.example/inbox", content=b"{}")
        finally:
            await pool.aclose()

    assert asyncio.run(go()).status_code == 202


# -- host health ---------------------------------------------------------------------------


def test_host_backoff_policy() -> None:
    assert compute_host_backoff_until(9, NOW) is None
    assert compute_host_backoff_until(10, NOW) == NOW + timedelta(minutes=1)
    assert compute_host_backoff_until(12, NOW) == NOW + timedelta(minutes=4)
    assert compute_host_backoff_until(100, NOW) == NOW + timedelta(hours=6)


def test_host_unavailable_after_a_week_of_failures() -> None:
    assert not is_host_unavailable(None, NOW)
    assert not is_host_unavailable(NOW - timedelta(days=6, hours=23), NOW)
    assert is_host_unavailable(NOW - timedelta(days=7), NOW)

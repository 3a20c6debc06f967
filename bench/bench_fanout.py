"""Fan-out: one post to 10,000 followers on 1,000 hosts, through the real outbox and delivery worker.

    python bench/bench_fanout.py [--database sqlite|postgres] [--runs 3] [--tls] [--hosts 1000] [--per-host 10]

A sink process listens on ``--hosts`` ports of 127.0.0.1, each port standing for one remote server; it
answers every POST with 202 and counts arrivals. The database holds one local author and
``hosts x per-host`` remote followers (rows inserted directly). The bench publishes one post through
``fediverse.social.actions.publish`` with the worker running in this process (as in ``reverie serve``) and prints
the time from publishing until the sink has every delivery, deliveries per second, and the CPU seconds
this process used. Two cases: every host has a shared inbox (one delivery per host), and the worst case
where no follower has one (one delivery per follower).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import tempfile
import time
from collections.abc import AsyncIterator
from multiprocessing import Pipe
from pathlib import Path
from typing import Any

import uvloop
from harness import (
    free_ports,
    make_certificate,
    median,
    profiled,
    raise_open_files_limit,
    run_sink,
    scratch_instance,
    spawn,
    summarize_profile,
)
from sqlalchemy import func, insert, select

from fediverse.core.accounts import create_account
from fediverse.core.config import load_settings
from fediverse.federation.delivery_queue import DeliveryQueue
from fediverse.federation.inbox.inbox_queue import InboxQueue
from fediverse.federation.transports import AiohttpTransport, HttpxTransport
from fediverse.services import open_services
from fediverse.social import actions
from fediverse.social.posts import PostDraft
from fediverse.worker.loop import Worker
from storage.models import Actor, Delivery, Follow, FollowState
from storage.types import utcnow

AUTHOR = "author"
INSERT_CHUNK = 1000


def follower_rows(ports: list[int], per_host: int, *, shared: bool, scheme: str) -> list[dict[str, Any]]:
    now = utcnow()
    rows = []
    for port in ports:
        origin = f"{scheme}://127.0.0.1:{port}"
        for index in range(per_host):
            actor_id = f"{origin}/users/f{index}"
            rows.append(
                {
                    "ap_id": actor_id,
                    "type": "Person",
                    "username": f"f{index}",
                    "domain": f"127.0.0.1:{port}",
                    "is_local": False,
                    "display_name": "",
                    "summary_html": "",
                    "inbox_url": f"{actor_id}/inbox",
                    "shared_inbox_url": f"{origin}/inbox" if shared else None,
                    "public_key_id": f"{actor_id}#main-key",
                    "manually_approves_followers": False,
                    "discoverable": False,
                    "indexable": False,
                    "fetched_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    return rows


async def populate(services: Any, rows: list[dict[str, Any]]) -> None:
    """The author and its followers, inserted directly (bulk Core inserts)."""
    account = await create_account(services.db, services.urls, AUTHOR)
    now = utcnow()
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        async with services.db.transaction() as session:
            await session.execute(insert(Actor), chunk)
            ids = (
                await session.scalars(select(Actor.id).where(Actor.ap_id.in_([row["ap_id"] for row in chunk])))
            ).all()
            await session.execute(
                insert(Follow),
                [
                    {
                        "follower_id": actor_id,
                        "followee_id": account.actor_id,
                        "state": FollowState.ACCEPTED,
                        "created_at": now,
                        "accepted_at": now,
                    }
                    for actor_id in ids
                ],
            )


async def fan_out(
    arguments: argparse.Namespace, environment: dict[str, str], sink: Any, ports: list[int], shared: bool
) -> dict[str, Any]:
    settings = load_settings(environment)
    scheme = "https" if arguments.tls else "http"
    async with open_services(settings, migrate=True) as services:
        await populate(services, follower_rows(ports, arguments.per_host, shared=shared, scheme=scheme))
        expected = len(ports) * (1 if shared else arguments.per_host)
        per_port = 1 if shared else arguments.per_host
        sink.send(("expect", expected, (len(ports) - arguments.slow_hosts) * per_port))
        async with open_bench_worker(services, arguments.client) as worker:
            services.wake_worker = worker.wake
            stop = asyncio.Event()
            running = asyncio.create_task(worker.run_forever(stop))
            await asyncio.sleep(0.2)  # let the idle loops settle
            profile = Path(arguments.scratch) / f"profile-{'shared' if shared else 'personal'}.txt"
            with profiled(os.getpid(), profile, enabled=arguments.profile):
                cpu_before = resource.getrusage(resource.RUSAGE_SELF)
                started = time.monotonic()
                draft = PostDraft(caption="A violet evening over the lake", mood_word="calm")
                await actions.publish(services, AUTHOR, draft)
                committed = time.monotonic()
                fast_at, done_at = await asyncio.to_thread(wait_for_sink, sink, arguments.timeout)
                cpu_after = resource.getrusage(resource.RUSAGE_SELF)
            stop.set()
            await running
        async with services.db.session() as session:
            states = dict((await session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))).all())
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    if arguments.profile:
        print(summarize_profile(profile, top=arguments.profile_top))
    return {
        "expected": expected,
        "publish_s": committed - started,
        "total_s": (done_at - started) if done_at else None,
        "fast_s": (fast_at - started) if fast_at else None,
        "slow_hosts": arguments.slow_hosts,
        "send_s": (done_at - committed) if done_at else None,
        "cpu_s": cpu,
        "states": states,
    }


@contextlib.asynccontextmanager
async def open_bench_worker(services: Any, client: str) -> AsyncIterator[Worker]:
    """The worker ``reverie serve`` runs, with the delivery client chosen for the comparison."""
    transport = AiohttpTransport if client == "aiohttp" else HttpxTransport
    deliveries = DeliveryQueue(services, transport=transport)
    try:
        yield Worker([InboxQueue(services), deliveries])
    finally:
        await deliveries.aclose()


def wait_for_sink(sink: Any, timeout: float) -> tuple[float | None, float | None]:
    """(when the healthy hosts had everything, when every host had) as monotonic times."""
    fast_at = None
    deadline = time.monotonic() + timeout
    while sink.poll(max(0.0, deadline - time.monotonic())):
        kind, moment = sink.recv()
        if kind == "fast":
            fast_at = moment
        elif kind == "done":
            return fast_at or moment, moment
    sink.send(("stats",))
    print("  !! timed out; the sink saw", sink.recv()[1])
    return fast_at, None


def one_case(arguments: argparse.Namespace, shared: bool, sink: Any, ports: list[int]) -> dict[str, Any]:
    with scratch_instance(arguments.database) as (data_dir, database):
        environment = {
            "REVERIE_BASE_URL": "http://127.0.0.1:8999",
            "REVERIE_DATA_DIR": str(data_dir),
            "REVERIE_DATABASE_URL": database.url,
            "REVERIE_ALLOW_PRIVATE_ADDRESSES": "true",
            "REVERIE_LOG_LEVEL": "warning",
        }
        if arguments.loop == "asyncio":
            return asyncio.run(fan_out(arguments, environment, sink, ports, shared))
        return uvloop.run(fan_out(arguments, environment, sink, ports, shared))


def describe(result: dict[str, Any]) -> str:
    if result["total_s"] is None:
        return f"did not finish; states {result['states']}"
    rate = result["expected"] / result["total_s"]
    healthy = f" (healthy hosts: {result['fast_s']:.2f} s)" if result["slow_hosts"] else ""
    return (
        f"{result['total_s']:6.2f} s to all {result['expected']:,} inboxes{healthy} ({rate:,.0f} deliveries/s), "
        f"publish {result['publish_s'] * 1000:.0f} ms, CPU {result['cpu_s']:.2f} s, states {result['states']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--per-host", type=int, default=10)
    parser.add_argument("--client", choices=["aiohttp", "httpx"], default="aiohttp", help="the delivery transport")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop", help="the worker's event loop")
    parser.add_argument("--tls", action="store_true", help="the sink serves HTTPS (a self-signed certificate)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds the sink waits before answering")
    parser.add_argument("--slow-hosts", type=int, default=0, help="hosts that answer only after --slow-delay")
    parser.add_argument("--slow-delay", type=float, default=10.0)
    parser.add_argument("--cases", nargs="+", choices=["shared", "personal"], default=["shared", "personal"])
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--profile", action="store_true", help="sample this process with py-spy while it fans out")
    parser.add_argument("--profile-top", type=int, default=30)
    arguments = parser.parse_args()
    raise_open_files_limit()
    ports = free_ports(arguments.hosts)
    with tempfile.TemporaryDirectory() as scratch:
        arguments.scratch = scratch
        cert = key = None
        if arguments.tls:
            cert_path, key_path = make_certificate(Path(scratch))
            cert, key = str(cert_path), str(key_path)
            os.environ["SSL_CERT_FILE"] = cert  # the delivery clients trust the sink's certificate
        ours, theirs = Pipe()
        sink = spawn(run_sink, ports, theirs, cert, key, arguments.delay, arguments.slow_hosts, arguments.slow_delay)
        if not ours.poll(60) or ours.recv()[0] != "ready":
            raise RuntimeError("the sink did not start")
        time.sleep(0.5)
        print(
            f"fan-out on {arguments.database}: {arguments.hosts:,} hosts x {arguments.per_host} followers, "
            f"{'https' if arguments.tls else 'http'}, {arguments.client} on {arguments.loop}, "
            f"sink delay {arguments.delay * 1000:.0f} ms, "
            f"{arguments.slow_hosts} hosts answering after {arguments.slow_delay:.0f} s",
            flush=True,
        )
        for case in arguments.cases:
            results = []
            for _ in range(arguments.runs):
                result = one_case(arguments, case == "shared", ours, ports)
                print(f"  {case:<8} {describe(result)}", flush=True)
                results.append(result)
            finished = [r for r in results if r["total_s"] is not None]
            if len(results) > 1 and finished:
                print(
                    f"  median {case}: {median([r['total_s'] for r in finished]):.2f} s, "
                    f"CPU {median([r['cpu_s'] for r in finished]):.2f} s "
                    f"(runs: {', '.join(format(r['total_s'], '.2f') for r in finished)})",
                    flush=True,
                )
        sink.terminate()


if __name__ == "__main__":
    main()

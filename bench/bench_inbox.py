"""Inbox ingestion: signed activities per second through the real HTTP stack into the database.

    python bench/bench_inbox.py [--database sqlite|postgres] [--workers 1 2] [--runs 3] [--seconds 10]

Each run: a fresh instance with one local account; a peer process on 127.0.0.1 serving the senders'
actor documents (keys are fetched once, then cached, as in production); ``--count`` distinct Create{Note}
activities of ~3 KiB from ``--actors`` senders, each mentioning the local account, pre-signed
(draft-cavage, RSA-2048) in separate processes, half to the shared inbox and half to the personal one;
``reverie serve`` (uvicorn, uvloop + httptools) with its in-process worker; a separate load process
sending every request once over ``--connections`` keep-alive connections. Printed per run: requests/s
and latency while firing, the server's CPU, rows durably stored (counted in the database afterwards,
compared with the 202s), and how long the worker took to apply the backlog.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

from harness import (
    AS2,
    LoadResult,
    cpu_seconds,
    median,
    percentile,
    process_tree,
    profiled,
    reverie_environment,
    reverie_serve,
    reverie_worker,
    run_load,
    scratch_instance,
    serve_documents,
    spawn,
    summarize_profile,
    wait_for_port,
)
from harness import actor_document as peer_actor_document
from sqlalchemy import text

from activitypub.keys import generate_rsa_key_pair, load_private_key, public_key_pem
from activitypub.signatures import sign_request
from fediverse.core.accounts import create_account
from fediverse.core.config import load_settings
from fediverse.services import open_services
from storage.db import Database
from tests.processes import free_port

LOCAL_USER = "bench"
FILLER = "The lake held the whole sky tonight, a mirror of violet and gold. " * 34  # ~2.3 KiB


def note_activity(peer_url: str, actor_index: int, serial: int, local_actor_id: str, handle: str) -> bytes:
    actor_id = f"{peer_url}/users/u{actor_index}"
    note_id = f"{actor_id}/statuses/{serial}"
    published = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    audience = {"to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [f"{actor_id}/followers", local_actor_id]}
    activity = {
        "@context": ["https://www.w3.org/ns/activitystreams", {"sensitive": "as:sensitive"}],
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": actor_id,
        "published": published,
        **audience,
        "object": {
            "id": note_id,
            "type": "Note",
            "attributedTo": actor_id,
            "published": published,
            "url": f"{peer_url}/@u{actor_index}/{serial}",
            "sensitive": False,
            "content": f'<p><span class="h-card"><a href="{local_actor_id}" class="u-url mention">@{handle}</a>'
            f"</span> {FILLER} #{serial}</p>",
            "tag": [{"type": "Mention", "href": local_actor_id, "name": f"@{handle}"}],
            "attachment": [],
            **audience,
        },
    }
    return json.dumps(activity, separators=(",", ":")).encode()


def sign_chunk(job: tuple[str, int, str, str, str, list[tuple[int, int]], dict[int, str]]) -> list[bytes]:
    """Build raw, signed HTTP/1.1 requests for ``(serial, actor)`` pairs (runs in a pool process)."""
    peer_url, server_port, local_actor_id, handle, local_user, pairs, private_pems = job
    keys = {index: load_private_key(pem) for index, pem in private_pems.items()}
    host = f"127.0.0.1:{server_port}"
    requests = []
    for serial, actor_index in pairs:
        body = note_activity(peer_url, actor_index, serial, local_actor_id, handle)
        path = "/inbox" if serial % 2 else f"/users/{local_user}/inbox"
        base = {"Host": host, "Content-Type": AS2}
        signed = sign_request(
            "POST",
            f"http://{host}{path}",
            base,
            body,
            key_id=f"{peer_url}/users/u{actor_index}#main-key",
            private_key=keys[actor_index],
        )
        headers = {**base, **signed, "Content-Length": str(len(body))}
        head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        requests.append(head.encode("latin-1") + b"\r\n" + body)
    return requests


def make_keys(count: int) -> list[str]:
    return [generate_rsa_key_pair().private_pem for _ in range(count)]


async def prepare_instance(environment: dict[str, str]) -> str:
    """Migrate, create the local account; its actor id."""
    settings = load_settings(environment)
    async with open_services(settings, migrate=True) as services:
        await create_account(services.db, services.urls, LOCAL_USER)
        return services.urls.actor_id(LOCAL_USER)


async def count(database_url: str, sql: str) -> int:
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            return int((await connection.execute(text(sql))).scalar_one())
    finally:
        await database.dispose()


async def wait_for_drain(database_url: str, timeout: float) -> tuple[float, int]:
    """(seconds waited, items still queued): returns when none is left or ``timeout`` passed."""
    database = Database(database_url)
    started = time.perf_counter()
    try:
        while True:
            async with database.engine.connect() as connection:
                left = int(
                    (
                        await connection.execute(text("SELECT count(*) FROM inbox_items WHERE state = 'queued'"))
                    ).scalar_one()
                )
            elapsed = time.perf_counter() - started
            if left == 0 or elapsed >= timeout:
                return elapsed, left
            await asyncio.sleep(0.1)
    finally:
        await database.dispose()


def one_run(arguments: argparse.Namespace, workers: int, signers: ProcessPoolExecutor, keys: list[str]) -> dict:
    with scratch_instance(arguments.database) as (data_dir, database), tempfile.TemporaryDirectory() as scratch:
        server_port, peer_port = free_port(), free_port()
        # One peer sends everything as fast as it can: lift the per-server allowance (decision 0023).
        environment = reverie_environment(
            f"http://127.0.0.1:{server_port}", data_dir, database.url, REVERIE_INBOX_RATE_PER_SECOND="0"
        )
        local_actor_id = asyncio.run(prepare_instance(environment))
        handle = f"{LOCAL_USER}@127.0.0.1:{server_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        documents = {}
        for index in range(arguments.actors):
            pem = keys[index % len(keys)]
            public = load_private_key(pem).public_key()
            documents[f"/users/u{index}"] = json.dumps(
                peer_actor_document(peer_url, index, public_key_pem(public))
            ).encode()
        peer = spawn(serve_documents, peer_port, documents)
        wait_for_port(peer_port)

        total = arguments.count + arguments.actors * 2
        pairs = [(serial, serial % arguments.actors) for serial in range(total)]
        pems = {index: keys[index % len(keys)] for index in range(arguments.actors)}
        chunk = max(1, len(pairs) // (arguments.signers * 4))
        jobs = [
            (peer_url, server_port, local_actor_id, handle, LOCAL_USER, pairs[start : start + chunk], pems)
            for start in range(0, len(pairs), chunk)
        ]
        signed_at = time.perf_counter()
        requests = [request for part in signers.map(sign_chunk, jobs) for request in part]
        sign_seconds = time.perf_counter() - signed_at
        warmup, measured = requests[: arguments.actors * 2], requests[arguments.actors * 2 :]

        log = Path(scratch) / "server.log"
        extra = ["--no-worker"] if arguments.worker != "inprocess" else []
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(
                reverie_serve(environment, server_port, log, workers=workers, extra_args=extra)
            )
            worker_log = Path(scratch) / "worker.log"
            # Warm-up: every sender twice, so each web process fetches and caches the keys.
            warm = run_load(server_port, warmup, connections=8, seconds=60, scratch=Path(scratch))
            if warm.statuses != {202: len(warmup)}:
                raise RuntimeError(f"warm-up failed: {warm.statuses}\n{log.read_text()[-3000:]}")
            if arguments.worker == "separate":
                stack.enter_context(reverie_worker(environment, worker_log))
            if arguments.worker != "after":
                asyncio.run(wait_for_drain(database.url, 60))
            pids = process_tree(server.process.pid)
            cpu_before = cpu_seconds(pids)
            profile = Path(scratch) / "profile.txt"
            with profiled(server.process.pid, profile, enabled=arguments.profile):
                result: LoadResult = run_load(
                    server_port,
                    measured,
                    connections=arguments.connections,
                    seconds=arguments.seconds,
                    scratch=Path(scratch),
                )
            server_cpu = cpu_seconds(pids) - cpu_before
            _, backlog = asyncio.run(wait_for_drain(database.url, 0))
            drain_profile = Path(scratch) / "drain-profile.txt"
            if arguments.worker == "after":
                worker = stack.enter_context(reverie_worker(environment, worker_log))
                pids = [*pids, *process_tree(worker.pid)]
                stack.enter_context(profiled(worker.pid, drain_profile, enabled=arguments.profile_drain))
            drain_seconds, left = asyncio.run(wait_for_drain(database.url, arguments.drain_timeout))
            stack.close()
            if arguments.profile_drain:
                print(summarize_profile(drain_profile, top=arguments.profile_top))
            applied_cpu = cpu_seconds(pids) - cpu_before
            if arguments.profile:
                print(summarize_profile(profile, top=arguments.profile_top))
        peer.terminate()
        stored = asyncio.run(count(database.url, "SELECT count(*) FROM inbox_items"))
        posts = asyncio.run(count(database.url, "SELECT count(*) FROM posts WHERE is_local = false"))
        accepted = result.statuses.get(202, 0)
        warm_accepted = len(warmup)
        return {
            "workers": workers,
            "sent": result.sent,
            "statuses": result.statuses,
            "rps": result.sent / result.seconds,
            "p50_ms": percentile(result.latencies, 0.5) * 1000,
            "p99_ms": percentile(result.latencies, 0.99) * 1000,
            "fire_seconds": result.seconds,
            "server_cpu": server_cpu,
            "load_cpu": result.cpu_seconds,
            "stored": stored - warm_accepted,
            "accepted": accepted,
            "posts": posts - warm_accepted,
            "backlog": backlog,
            "drain_seconds": drain_seconds,
            "left": left,
            "applied_cpu": applied_cpu,
            "applied_per_s": (backlog - left) / drain_seconds if drain_seconds else None,
            "sign_seconds": sign_seconds,
            "log_tail": log.read_text()[-2000:],
        }


def print_run(run: dict) -> None:
    drain = (
        f"all applied {run['drain_seconds']:.1f} s later"
        if run["left"] == 0
        else f"{run['left']:,} still queued {run['drain_seconds']:.0f} s later"
    )
    applied = f"{run['applied_per_s']:,.0f} items/s" if run["applied_per_s"] else "-"
    print(
        f"  workers={run['workers']}  {run['rps']:>7,.0f} req/s"
        f"  p50 {run['p50_ms']:6.1f} ms  p99 {run['p99_ms']:6.1f} ms"
        f"  | sent {run['sent']:,} in {run['fire_seconds']:.1f} s, statuses {run['statuses']}"
        f"\n            server CPU {run['server_cpu']:.1f} s ({run['server_cpu'] / run['fire_seconds']:.2f} cores),"
        f" load CPU {run['load_cpu']:.1f} s | stored {run['stored']:,} rows for {run['accepted']:,} 202s"
        f"\n            worker: {run['backlog']:,} queued when firing ended, {drain} ({applied});"
        f" {run['posts']:,} posts stored",
        flush=True,
    )
    bad = {status: n for status, n in run["statuses"].items() if status != 202}
    if bad or run["stored"] != run["accepted"]:
        print("  !! unexpected answers or a row count mismatch; server log tail:\n" + run["log_tail"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="web processes (default: 1 2)")
    parser.add_argument("--runs", type=int, default=1, help="runs per configuration; the median is printed")
    parser.add_argument("--seconds", type=float, default=15.0, help="cap on the firing phase")
    parser.add_argument("--count", type=int, default=30_000, help="distinct activities to send")
    parser.add_argument("--actors", type=int, default=64, help="distinct senders (keys) on the peer")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--signers", type=int, default=2, help="processes that pre-sign the requests")
    parser.add_argument("--drain-timeout", type=float, default=60.0, help="how long to watch the worker apply")
    parser.add_argument(
        "--worker",
        choices=["inprocess", "separate", "after"],
        default="inprocess",
        help="inprocess: `reverie serve` applies as it ingests (default); separate: a `reverie worker` process "
        "runs beside `serve --no-worker`; after: ingest first, then time a `reverie worker` on the backlog",
    )
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy while firing")
    parser.add_argument("--profile-drain", action="store_true", help="with --worker after: sample the worker")
    parser.add_argument("--profile-top", type=int, default=30)
    arguments = parser.parse_args()
    print(
        f"inbox ingestion on {arguments.database}: {arguments.count:,} signed Create{{Note}} (~3 KiB), "
        f"{arguments.actors} senders, {arguments.connections} connections",
        flush=True,
    )
    context = get_context("spawn")
    with ProcessPoolExecutor(arguments.signers, mp_context=context) as signers:
        keys = [pem for part in signers.map(make_keys, [8] * 2) for pem in part]
        for workers in arguments.workers:
            runs = []
            for _ in range(arguments.runs):
                run = one_run(arguments, workers, signers, keys)
                print_run(run)
                runs.append(run)
            if len(runs) > 1:
                rates = [run["applied_per_s"] for run in runs if run["applied_per_s"]]
                print(
                    f"median workers={workers}: {median([r['rps'] for r in runs]):,.0f} req/s, "
                    f"p99 {median([r['p99_ms'] for r in runs]):.1f} ms, applying {median(rates):,.0f} items/s "
                    f"(runs: {', '.join(format(r['rps'], ',.0f') for r in runs)})",
                    flush=True,
                )


if __name__ == "__main__":
    main()

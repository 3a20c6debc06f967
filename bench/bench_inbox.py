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

``--mode apply`` leaves HTTP out: ``--count`` Create{Note}s are queued in a scratch instance whose senders
are stored, and the inbox worker drains them in this process (``--cprofile`` profiles the event loop's
thread; py-spy with ``--threads`` sees the units of work too). Its baseline, same run: the intake's group
commit storing as many rows from 64 concurrent callers.
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
from typing import Any

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
    round_trip,
    run_load,
    scratch_instance,
    serve_documents,
    spawn,
    summarize_profile,
    wait_for_port,
)
from harness import actor_document as peer_actor_document
from sqlalchemy import select, text

from activitypub.keys import generate_rsa_key_pair, load_private_key, public_key_pem
from activitypub.signatures import sign_request
from fediverse.core.accounts import create_account
from fediverse.core.config import load_settings
from fediverse.services import open_services
from storage.db import Database
from tests.processes import free_port

LOCAL_USER = "bench"
AS2_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
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


def interaction_activity(peer_url: str, actor_index: int, serial: int, posts: list[str], actors: int) -> bytes:
    """``--activities interactions``: a Like (even serials) or an Announce (odd) of a local post, each sender's
    on a post of its own; every tenth of a sender's is an Undo of its previous one (embedded, as Mastodon)."""
    actor_id = f"{peer_url}/users/u{actor_index}"
    kind = "Announce" if serial % 2 else "Like"
    target = posts[(serial // actors) % len(posts)]
    activity: dict[str, Any] = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor_id}#{kind.lower()}s/{serial}",
        "type": kind,
        "actor": actor_id,
        "object": target,
    }
    if kind == "Announce":
        activity |= {"published": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "to": [AS2_PUBLIC]}
    if (serial // actors) % 10 == 9:
        previous = serial - actors
        undone = "Announce" if previous % 2 else "Like"
        undone_target = posts[(previous // actors) % len(posts)]
        undone_id = f"{actor_id}#{undone.lower()}s/{previous}"
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{undone_id}/undo",
            "type": "Undo",
            "actor": actor_id,
            "object": {"id": undone_id, "type": undone, "actor": actor_id, "object": undone_target},
        }
    return json.dumps(activity, separators=(",", ":")).encode()


def activity_body(
    peer_url: str, actor_index: int, serial: int, local_actor_id: str, handle: str, posts: list[str], actors: int
) -> bytes:
    """A Create{Note} mentioning the local account, or (with ``posts``) a like, boost or undo of one of them."""
    if posts:
        return interaction_activity(peer_url, actor_index, serial, posts, actors)
    return note_activity(peer_url, actor_index, serial, local_actor_id, handle)


def sign_chunk(
    job: tuple[str, int, str, str, str, list[tuple[int, int]], dict[int, str], list[str], int],
) -> list[bytes]:
    """Build raw, signed HTTP/1.1 requests for ``(serial, actor)`` pairs (runs in a pool process)."""
    peer_url, server_port, local_actor_id, handle, local_user, pairs, private_pems, posts, actors = job
    keys = {index: load_private_key(pem) for index, pem in private_pems.items()}
    host = f"127.0.0.1:{server_port}"
    requests = []
    for serial, actor_index in pairs:
        body = activity_body(peer_url, actor_index, serial, local_actor_id, handle, posts, actors)
        path = "/inbox" if serial % 2 else f"/users/{local_user}/inbox"
        requests.append(signed_post(host, path, body, f"{peer_url}/users/u{actor_index}#main-key", keys[actor_index]))
    return requests


def signed_post(host: str, path: str, body: bytes, key_id: str, private_key: Any) -> bytes:
    """A raw HTTP/1.1 POST of ``body``, signed (draft-cavage) with ``private_key``."""
    base = {"Host": host, "Content-Type": AS2}
    signed = sign_request("POST", f"http://{host}{path}", base, body, key_id=key_id, private_key=private_key)
    headers = {**base, **signed, "Content-Length": str(len(body))}
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


def make_keys(count: int) -> list[str]:
    return [generate_rsa_key_pair().private_pem for _ in range(count)]


async def prepare_instance(environment: dict[str, str], posts: int = 0) -> tuple[str, list[str]]:
    """Migrate, create the local account and ``posts`` public posts of it; its actor id, the posts' ids."""
    settings = load_settings(environment)
    async with open_services(settings, migrate=True) as services:
        await create_account(services.db, services.urls, LOCAL_USER)
        return services.urls.actor_id(LOCAL_USER), await local_posts(services, posts)


async def local_posts(services: Any, count: int) -> list[str]:
    """``count`` public posts of the local account, for likes and boosts to point at."""
    from fediverse.social import actions
    from fediverse.social.posts import PostDraft

    made = []
    for number in range(count):
        post = await actions.publish(services, LOCAL_USER, PostDraft(caption=f"a lake at dusk, {number}"))
        made.append(post.ap_id)
    return made


def interaction_posts(arguments: argparse.Namespace) -> int:
    """How many local posts ``--activities interactions`` needs: one per serial of each sender."""
    if arguments.activities != "interactions":
        return 0
    return (arguments.count + arguments.actors * 2) // arguments.actors + 1


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
        local_actor_id, posts = asyncio.run(prepare_instance(environment, interaction_posts(arguments)))
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
            (
                peer_url,
                server_port,
                local_actor_id,
                handle,
                LOCAL_USER,
                pairs[start : start + chunk],
                pems,
                posts,
                arguments.actors,
            )
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
                if arguments.mode == "steady":
                    result = run_paced_load(
                        server_port,
                        measured,
                        rate=arguments.rate,
                        connections=arguments.connections,
                        scratch=Path(scratch),
                    )
                else:
                    result = run_load(
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
                print(summarize_profile(drain_profile, top=arguments.profile_top, threads=arguments.profile_threads))
            applied_cpu = cpu_seconds(pids) - cpu_before
            if arguments.profile:
                print(summarize_profile(profile, top=arguments.profile_top, threads=arguments.profile_threads))
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


def print_ratios(run: dict, mode: str, rate: float) -> None:
    """The figures issue 10 sets goals for, each beside its same-run baseline."""
    accepted, fire, drain = run["accepted"], run["fire_seconds"], run["drain_seconds"]
    if mode == "burst":
        accept_rate = accepted / fire
        apply_rate = accepted / (fire + drain) if run["left"] == 0 else (accepted - run["left"]) / (fire + drain)
        print(
            f"  burst: accepted {accept_rate:,.0f}/s (baseline: the intake), applied {apply_rate:,.0f}/s from the first"
            f" request to the last applied -> apply/accept = {apply_rate / accept_rate:.2f} (goal >= 0.5)",
            flush=True,
        )
    else:
        unapplied = run["backlog"] / accepted if accepted else float("nan")
        applying = (accepted - run["backlog"]) / fire
        print(
            f"  steady: offered {rate:,.0f}/s for {fire:.1f} s, accepted {accepted:,}; applied {applying:,.0f}/s while"
            f" they arrived ({applying / rate:.2f} of the offered rate, the baseline); unapplied when the stream ended:"
            f" {run['backlog']:,} = {unapplied:.1%} (goal <= 10 %); all applied {drain:.1f} s later (goal <= 5 s)"
            + ("" if run["left"] == 0 else f" -- NOT drained, {run['left']:,} left"),
            flush=True,
        )


async def _fire_paced(port: int, requests: list[bytes], rate: float, connections: int) -> LoadResult:
    """Send request ``i`` at ``i / rate`` seconds (as a steady stream of peers would), over a pool of
    keep-alive connections; a request waits for a free connection when the server falls behind."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (request := await queue.get()) is not None:
                started = time.perf_counter()
                status = await round_trip(reader, writer, request)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    cpu_before = time.process_time()
    tasks = [asyncio.create_task(connection()) for _ in range(connections)]
    started = time.perf_counter()
    for index, request in enumerate(requests):
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(request)
    for _ in tasks:
        queue.put_nowait(None)
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    return LoadResult(len(latencies), statuses, latencies, elapsed, time.process_time() - cpu_before)


def fire_paced_requests(port: int, request_file: str, rate: float, connections: int, result_file: str) -> None:
    """Load-process entry point for ``_fire_paced``; writes the outcome as JSON."""
    requests = [item.encode("latin-1") for item in json.loads(Path(request_file).read_text())]
    result = asyncio.run(_fire_paced(port, requests, rate, connections))
    Path(result_file).write_text(json.dumps(result.__dict__))


def run_paced_load(port: int, requests: list[bytes], *, rate: float, connections: int, scratch: Path) -> LoadResult:
    request_file, result_file = scratch / "paced.json", scratch / "paced-result.json"
    request_file.write_text(json.dumps([item.decode("latin-1") for item in requests]))
    process = spawn(fire_paced_requests, port, str(request_file), rate, connections, str(result_file))
    process.join(len(requests) / rate + 120)
    if process.exitcode != 0:
        raise RuntimeError(f"the paced load process failed with {process.exitcode}")
    loaded = json.loads(result_file.read_text())
    loaded["statuses"] = {int(key): value for key, value in loaded["statuses"].items()}
    return LoadResult(**loaded)


# -- purge: a deleted account's posts, while the inbox keeps receiving -----------------------------------


def probe_writer(database_path: str, seconds: float, result_file: str) -> None:
    """Probe-process entry point: take SQLite's write lock (``BEGIN IMMEDIATE``) every few ms for
    ``seconds`` and record how long each try waited, the longest being how long another writer held it."""
    import sqlite3

    connection = sqlite3.connect(database_path, isolation_level=None, timeout=30)
    waits = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        waits.append(time.perf_counter() - started)
        connection.execute("COMMIT")
        time.sleep(0.002)
    Path(result_file).write_text(json.dumps(waits))


async def seed_posts(database_url: str, actor_ap_ids: list[str], posts: int) -> dict[str, int]:
    """Give each actor ``posts`` stored notes, each with two tags, a mention of the local account and its
    notification; the actors' ids."""
    from storage.models import Account, Actor, Mention, Notification, Post, PostTag

    database = Database(database_url)
    try:
        async with database.transaction() as session:
            account = await session.scalar(select(Account).where(Account.username == LOCAL_USER))
            assert account is not None
            ids: dict[str, int] = {}
            for ap_id in actor_ap_ids:
                actor = await session.scalar(select(Actor).where(Actor.ap_id == ap_id))
                assert actor is not None and actor.id is not None
                ids[ap_id] = actor.id
                rows = [
                    Post(ap_id=f"{ap_id}/statuses/seeded-{n}", author_id=actor.id, content_html=f"<p>{FILLER}</p>")
                    for n in range(posts)
                ]
                session.add_all(rows)
                await session.flush()
                for row in rows:
                    session.add_all([PostTag(post_id=row.id, tag="lake"), PostTag(post_id=row.id, tag=f"t{row.id}")])
                    session.add(Mention(post_id=row.id, actor_id=account.actor_id))
                    session.add(Notification(account_id=account.id, type="mention", actor_id=actor.id, post_id=row.id))
            return ids
    finally:
        await database.dispose()


async def timed_purges(database_url: str, one_at_a_time: int, in_steps: int) -> tuple[float, float, list[float]]:
    """In this process, on the same database: the purge as it was (``tombstone_post`` per post, all in one
    transaction) of ``one_at_a_time``, and the purge in steps of ``in_steps``; (the old transaction's
    length, the new purge's total time, each of its transactions' lengths)."""
    from fediverse.social import removals
    from storage.models import Actor, Post

    database = Database(database_url)
    try:
        started = time.perf_counter()
        async with database.transaction() as session:
            actor = await session.get(Actor, one_at_a_time)
            assert actor is not None
            for post_id in list(await session.scalars(select(Post.id).where(Post.author_id == one_at_a_time))):
                post = await session.get(Post, post_id)
                assert post is not None
                await removals.tombstone_post(session, post)
            await removals.forget_actor(session, actor)
        old = time.perf_counter() - started
        holds = []
        began = time.perf_counter()
        started = time.perf_counter()
        async with database.transaction() as session:
            actor = await session.get(Actor, in_steps)
            assert actor is not None
            await removals.forget_actor(session, actor)
        holds.append(time.perf_counter() - started)
        after: int | None = 0
        while after is not None:
            started = time.perf_counter()
            async with database.transaction() as session:
                after = await removals.purge_step(session, in_steps, after=after)
            holds.append(time.perf_counter() - started)
        return old, time.perf_counter() - began, holds
    finally:
        await database.dispose()


async def standing_posts(database_url: str, actor_id: int) -> int:
    return await count(database_url, f"SELECT count(*) FROM posts WHERE author_id = {actor_id} AND deleted_at IS NULL")


def purge_main(arguments: argparse.Namespace) -> None:
    if arguments.database != "sqlite":
        raise SystemExit("--mode purge measures SQLite's writer (the probe takes its file lock)")
    print(
        f"purge on sqlite: an account with {arguments.posts:,} posts deleted while {arguments.rate:.0f} signed "
        f"Creates/s arrive from other senders",
        flush=True,
    )
    context = get_context("spawn")
    with ProcessPoolExecutor(arguments.signers, mp_context=context) as signers:
        keys = [pem for part in signers.map(make_keys, [4] * 2) for pem in part]
        with scratch_instance("sqlite") as (data_dir, database), tempfile.TemporaryDirectory() as scratch:
            server_port, peer_port = free_port(), free_port()
            environment = reverie_environment(
                f"http://127.0.0.1:{server_port}", data_dir, database.url, REVERIE_INBOX_RATE_PER_SECOND="0"
            )
            local_actor_id, _ = asyncio.run(prepare_instance(environment))
            handle = f"{LOCAL_USER}@127.0.0.1:{server_port}"
            peer_url = f"http://127.0.0.1:{peer_port}"
            actors = max(arguments.actors, 6)
            documents = {
                f"/users/u{index}": json.dumps(
                    peer_actor_document(
                        peer_url, index, public_key_pem(load_private_key(keys[index % len(keys)]).public_key())
                    )
                ).encode()
                for index in range(actors)
            }
            peer = spawn(serve_documents, peer_port, documents)
            wait_for_port(peer_port)
            stream = int(arguments.rate * arguments.seconds)
            pairs = [(serial, serial % actors) for serial in range(actors * 2 + stream * 2)]
            pems = {index: keys[index % len(keys)] for index in range(actors)}
            requests = sign_chunk((peer_url, server_port, local_actor_id, handle, LOCAL_USER, pairs, pems))
            warmup = requests[: actors * 2]
            # The stream comes from everyone but u0, u1 and u2 (u0 is deleted; u1 and u2 are purged in process).
            measured = [
                request
                for (serial, index), request in zip(pairs, requests, strict=True)
                if serial >= actors * 2 and index > 2
            ][:stream]
            host = f"127.0.0.1:{server_port}"
            victim = f"{peer_url}/users/u0"
            delete = json.dumps(
                {"id": f"{victim}#delete", "type": "Delete", "actor": victim, "object": victim, "to": [AS2_PUBLIC]}
            ).encode()
            delete_request = signed_post(host, "/inbox", delete, f"{victim}#main-key", load_private_key(pems[0]))
            position = min(len(measured), int(arguments.rate))  # about a second into the stream
            measured.insert(position, delete_request)
            log = Path(scratch) / "server.log"
            database_path = database.url.removeprefix("sqlite:///")
            with reverie_serve(environment, server_port, log):
                warm = run_load(server_port, warmup, connections=8, seconds=60, scratch=Path(scratch))
                if warm.statuses != {202: len(warmup)}:
                    raise RuntimeError(f"warm-up failed: {warm.statuses}\n{log.read_text()[-3000:]}")
                asyncio.run(wait_for_drain(database.url, 60))
                ids = asyncio.run(
                    seed_posts(database.url, [f"{peer_url}/users/u{n}" for n in range(3)], arguments.posts)
                )
                probe_file = Path(scratch) / "probe.json"
                probe = spawn(probe_writer, database_path, arguments.seconds + 1, str(probe_file))
                started = time.perf_counter()
                result = run_paced_load(
                    server_port, measured, rate=arguments.rate, connections=arguments.connections, scratch=Path(scratch)
                )
                purge_seconds = None
                while time.perf_counter() - started < arguments.seconds + 60:
                    if asyncio.run(standing_posts(database.url, ids[f"{peer_url}/users/u0"])) == 0:
                        purge_seconds = time.perf_counter() - started - position / arguments.rate
                        break
                    time.sleep(0.1)
                probe.join(arguments.seconds + 30)
                waits = json.loads(probe_file.read_text())
                asyncio.run(wait_for_drain(database.url, 30))
            peer.terminate()
            old, new_total, holds = asyncio.run(
                timed_purges(database.url, ids[f"{peer_url}/users/u1"], ids[f"{peer_url}/users/u2"])
            )
    refused = result.statuses.get(503, 0)
    print(
        f"  served: {result.statuses} for {result.sent:,} requests at {arguments.rate:.0f}/s"
        f" over {result.seconds:.1f} s;"
        f" 503s meanwhile: {refused}; p99 {percentile(result.latencies, 0.99) * 1000:.0f} ms"
        f"\n  the Delete's purge of {arguments.posts:,} posts took "
        + (f"{purge_seconds:.2f} s" if purge_seconds is not None else "more than the wait (NOT finished)")
        + f" in the server; longest wait for SQLite's writer seen by a probe meanwhile: {max(waits) * 1000:.0f} ms"
        f" (p99 {percentile(waits, 0.99) * 1000:.0f} ms, {len(waits):,} tries)"
        f"\n  same run, in process, {arguments.posts:,} posts each: purge as before (tombstone_post per post, one"
        f" transaction) held the writer {old * 1000:.0f} ms (the baseline); in steps: {len(holds)} transactions, the"
        f" longest {max(holds) * 1000:.0f} ms, {new_total * 1000:.0f} ms in all -> longest hold {max(holds) / old:.2f}"
        f" of the baseline (goal: <= ~100 ms)",
        flush=True,
    )


# -- apply: the worker alone, in process, on a queued backlog --------------------------------------------


async def apply_in_process(arguments: argparse.Namespace) -> None:
    """Queue ``--count`` Create{Note}s (stored senders, fresh) in a scratch instance, then time the inbox
    worker draining them in this process. Baseline, same run: the intake's group commit storing the same
    rows (what the worker has to keep up with, less HTTP and signatures)."""
    import cProfile
    import pstats

    from sqlalchemy import event, insert

    from fediverse.federation.actors_in import actor_fields
    from fediverse.federation.inbox.inbox_queue import InboxQueue
    from fediverse.federation.inbox.intake import InboxIntake
    from storage.models import Actor, InboxItem

    with scratch_instance(arguments.database) as (data_dir, database):
        base_url = "http://127.0.0.1:9"
        environment = reverie_environment(base_url, data_dir, database.url)
        settings = load_settings(environment)
        peer_url = "http://127.0.0.1:8"
        async with open_services(settings, migrate=True) as services:
            await create_account(services.db, services.urls, LOCAL_USER)
            local_actor_id = services.urls.actor_id(LOCAL_USER)
            posts = await local_posts(services, interaction_posts(arguments))
            handle = f"{LOCAL_USER}@127.0.0.1:9"
            now = datetime.now(UTC)
            async with services.db.transaction() as session:
                for index in range(arguments.actors):
                    fields = actor_fields(peer_actor_document(peer_url, index, "-"))
                    await session.execute(insert(Actor).values(**{**fields, "fetched_at": now}))

            def rows(offset: int) -> list[dict[str, Any]]:
                stamp = datetime.now(UTC)
                made = []
                for serial in range(offset, offset + arguments.count):
                    actor_index = serial % arguments.actors
                    body = activity_body(peer_url, actor_index, serial, local_actor_id, handle, posts, arguments.actors)
                    activity = json.loads(body)
                    made.append(
                        {
                            "activity_ap_id": activity["id"],
                            "actor_ap_id": activity["actor"],
                            "type": activity["type"],
                            "payload": activity,
                            "recipient_account_id": None,
                            "state": "queued",
                            "attempts": 0,
                            "next_attempt_at": stamp,
                            "received_at": stamp,
                        }
                    )
                return made

            # Baseline: the intake's group commit storing --count rows from 64 concurrent callers.
            baseline_rows = rows(10_000_000)
            async with InboxIntake(services.db) as intake:
                started = time.perf_counter()
                limit = asyncio.Semaphore(arguments.connections)

                async def store(row: dict[str, Any]) -> None:
                    async with limit:
                        await intake.store(row)

                await asyncio.gather(*(store(row) for row in baseline_rows))
                intake_seconds = time.perf_counter() - started
            async with services.db.transaction() as session:
                await session.execute(text("DELETE FROM inbox_items"))
                await session.execute(insert(InboxItem), rows(0))

            statements = 0

            def count_statement(*_: Any) -> None:
                nonlocal statements
                statements += 1

            engines = [services.db.engine.sync_engine]
            if services.db.unit_engine is not None:
                engines.append(services.db.unit_engine)
            for engine in engines:
                event.listen(engine, "before_cursor_execute", count_statement)
            queue = InboxQueue(services)
            profile = cProfile.Profile() if arguments.cprofile else None
            cpu = time.process_time()
            started = time.perf_counter()
            if profile is not None:
                profile.enable()
            while await queue.run_once():
                pass
            if profile is not None:
                profile.disable()
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            async with services.db.session() as session:
                posts = int(
                    (await session.execute(text("SELECT count(*) FROM posts WHERE is_local = false"))).scalar_one()
                )
                notes = int((await session.execute(text("SELECT count(*) FROM notifications"))).scalar_one())
                posts += int(
                    (
                        await session.execute(
                            text("SELECT (SELECT count(*) FROM likes) + (SELECT count(*) FROM announces)")
                        )
                    ).scalar_one()
                )
                undone = int(
                    (await session.execute(text("SELECT count(*) FROM inbox_items WHERE state != 'done'"))).scalar_one()
                )
    intake_rate = arguments.count / intake_seconds
    rate = arguments.count / seconds
    print(
        f"  applied {arguments.count:,} queued {arguments.activities} in {seconds:.2f} s: {rate:,.0f}/s,"
        f" {cpu / arguments.count * 1000:.2f} ms CPU and {statements / arguments.count:.2f} statements sent per item"
        f" (a multi-row insert counts once; {posts:,} posts, likes and boosts, {notes:,} notifications,"
        f" {undone} not done)"
        f"\n  baseline, same run: the intake's group commit stored the same number of rows at {intake_rate:,.0f}/s"
        f" -> apply / store = {rate / intake_rate:.2f}",
        flush=True,
    )
    if profile is not None:
        stats = pstats.Stats(profile)
        stats.sort_stats(arguments.cprofile).print_stats(arguments.profile_top)


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
    parser.add_argument(
        "--mode",
        choices=["burst", "steady", "purge", "apply"],
        default="burst",
        help="burst: --count Creates as fast as --connections go; steady: --rate per second for --seconds; "
        "purge: an account with --posts posts deleted while --rate Creates per second arrive; apply: --count "
        "queued Creates applied by the worker in this process (--cprofile cumulative|tottime to profile it)",
    )
    parser.add_argument(
        "--activities",
        choices=["creates", "interactions"],
        default="creates",
        help="creates: Create{Note}s mentioning the local account; interactions: Likes and Announces of its "
        "posts, every tenth of a sender's an Undo",
    )
    parser.add_argument("--rate", type=float, default=100.0, help="steady and purge: activities per second")
    parser.add_argument("--posts", type=int, default=1000, help="purge: posts of the deleted account")
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
    parser.add_argument(
        "--profile-threads",
        default="",
        help="with --profile: also count helper threads' stacks containing this (e.g. _write_unit, reverie-db)",
    )
    parser.add_argument("--cprofile", choices=["cumulative", "tottime"], help="apply: cProfile the drain")
    arguments = parser.parse_args()
    if arguments.mode == "steady":
        arguments.count = int(arguments.rate * arguments.seconds)
    if arguments.mode == "purge":
        purge_main(arguments)
        return
    if arguments.mode == "apply":
        print(
            f"inbox apply on {arguments.database}, in process: {arguments.count:,} queued {arguments.activities}",
            flush=True,
        )
        for _ in range(arguments.runs):
            asyncio.run(apply_in_process(arguments))
        return
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
                print_ratios(run, arguments.mode, arguments.rate)
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

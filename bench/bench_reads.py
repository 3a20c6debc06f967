"""Read endpoints under wrk, and the idle memory of a fresh instance.

    python bench/bench_reads.py [--database sqlite|postgres] [--workers 1 2] [--runs 3] [--seconds 8]

Needs wrk (Debian: ``apt-get install wrk``; CI does not run benchmarks). Each configuration: a fresh
instance with one account and ``--posts`` public posts, ``reverie serve`` on 127.0.0.1; RSS and PSS of
the whole process tree once it is up and idle; then, per endpoint, a 2 s warm-up and ``--seconds`` of
``wrk -t1 -c64`` (requests/s and p99 latency), and the memory again after the load.

The baseline, measured in the same run: a tiny starlette app on the same uvicorn settings (one process)
answering each request with one bare ``sqlite3`` primary-key read made on the event loop. It runs right
before each endpoint run, and every endpoint prints its ratio to the median of those, so figures read
the same on a noisy, shared box. Each also prints the CPU time per request of both servers and their
ratio ("CPU ratio"): on a box whose cores other work takes, that is the steadier figure, and what the
rate ratio would be on an idle one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from harness import (
    cpu_seconds,
    median,
    memory_mib,
    process_tree,
    profiled,
    reverie_environment,
    reverie_serve,
    scratch_instance,
    summarize_profile,
    wait_for_port,
)

from fediverse.core.accounts import create_account
from fediverse.core.config import load_settings
from fediverse.services import open_services
from fediverse.social import actions
from fediverse.social.posts import PostDraft
from tests.processes import free_port

USER = "bench"
AS2 = "application/activity+json"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def endpoints(host: str, post_id: int) -> list[tuple[str, str, str | None]]:
    """(name, path, Accept header)."""
    return [
        ("actor (AS2)", f"/users/{USER}", AS2),
        ("WebFinger", f"/.well-known/webfinger?resource=acct:{USER}@{host}", None),
        ("outbox page", f"/users/{USER}/outbox?page=true", AS2),
        ("profile HTML", f"/@{USER}", "text/html"),
        ("post HTML", f"/@{USER}/{post_id}", "text/html"),
        ("note (AS2)", f"/users/{USER}/statuses/{post_id}", AS2),
        ("NodeInfo", "/nodeinfo/2.0", None),
    ]


async def prepare(environment: dict[str, str], posts: int) -> int:
    """The instance's account and posts; returns the newest post's id."""
    settings = load_settings(environment)
    newest = 0
    async with open_services(settings, migrate=True) as services:
        await create_account(services.db, services.urls, USER)
        for index in range(posts):
            draft = PostDraft(caption=f"Evening number {index} over the lake #dusk", mood_word="calm")
            post = await actions.publish(services, USER, draft)
            newest = post.id
    return newest


def serve_baseline(port: int, database_file: str) -> None:
    """The baseline server: starlette on uvicorn (the options ``reverie serve`` uses), one bare sqlite3
    primary-key read per request, made on the event loop (a few microseconds), the row as JSON."""
    import json

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    connection = sqlite3.connect(database_file)

    async def endpoint(_request: Request) -> Response:
        row = connection.execute("SELECT id, username, actor_id FROM accounts WHERE id = ?", (1,)).fetchone()
        body = json.dumps({"id": row[0], "username": row[1], "actor_id": row[2]}).encode()
        return Response(body, media_type="application/json")

    app = Starlette(routes=[Route("/row", endpoint)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=True, server_header=False)


@contextlib.contextmanager
def baseline_server(database_file: str) -> Iterator[tuple[str, int]]:
    """The baseline server in its own process; yields its URL and process id."""
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=serve_baseline, args=(port, database_file), daemon=True
    )
    process.start()
    try:
        wait_for_port(port)
        assert process.pid is not None
        yield f"http://127.0.0.1:{port}/row", process.pid
    finally:
        process.terminate()
        process.join(10)


def run_wrk(url: str, accept: str | None, seconds: float, connections: int) -> tuple[float, float, dict[str, int]]:
    """(requests/s, p99 ms, {"non2xx": n, "errors": n}) from one wrk run."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    if accept:
        command += ["-H", f"Accept: {accept}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE).groups()  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*", output)
    return rate, float(value) * _UNITS[unit], {"non2xx": int(non2xx.group(1)) if non2xx else 0, "errors": bool(errors)}


def one_configuration(arguments: argparse.Namespace, workers: int) -> dict[str, list[tuple[float, float]]]:
    results: dict[str, list[tuple[float, float]]] = {}
    with scratch_instance(arguments.database) as (data_dir, database), tempfile.TemporaryDirectory() as scratch:
        port = free_port()
        cache = {} if arguments.anonymous_cache else {"REVERIE_ANONYMOUS_CACHE_MS": "0"}
        environment = reverie_environment(f"http://127.0.0.1:{port}", data_dir, database.url, **cache)
        post_id = asyncio.run(prepare(environment, arguments.posts))
        baseline_file = Path(scratch) / "baseline.db"
        with sqlite3.connect(baseline_file) as connection:
            connection.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, username TEXT, actor_id INTEGER)")
            connection.execute("INSERT INTO accounts VALUES (1, ?, 1)", (USER,))
        connection.close()
        with (
            baseline_server(str(baseline_file)) as (baseline_url, baseline_pid),
            reverie_serve(environment, port, Path(scratch) / "server.log", workers=workers) as server,
        ):
            time.sleep(2)  # let start-up garbage settle: "idle" means up and quiet
            rss, pss = memory_mib(process_tree(server.process.pid))
            print(
                f"  workers={workers}: idle {rss:.0f} MiB RSS / {pss:.0f} MiB PSS"
                f" ({len(process_tree(server.process.pid))} processes)"
            )
            run_wrk(baseline_url, None, 2, arguments.connections)
            for name, path, accept in endpoints(f"127.0.0.1:{port}", post_id):
                url = server.base_url + path
                run_wrk(url, accept, 2, arguments.connections)
                cpu_seconds_used, seconds_run, baselines, baseline_cpu = 0.0, 0.0, [], []
                for run in range(arguments.runs):
                    # The baseline right before each run: on a shared, noisy box the pair sees the same load.
                    cpu_before = cpu_seconds([baseline_pid])
                    baselines.append(run_wrk(baseline_url, None, arguments.seconds, arguments.connections)[0])
                    baseline_cpu.append(
                        (cpu_seconds([baseline_pid]) - cpu_before) / (baselines[-1] * arguments.seconds)
                    )
                    cpu_before, started = cpu_seconds(process_tree(server.process.pid)), time.monotonic()
                    profile = Path(scratch) / f"profile-{len(results)}.txt"
                    with profiled(server.process.pid, profile, enabled=arguments.profile and run == 0):
                        rate, p99, problems = run_wrk(url, accept, arguments.seconds, arguments.connections)
                    if arguments.profile and run == 0:
                        print(summarize_profile(profile, top=arguments.profile_top))
                    cpu_seconds_used += cpu_seconds(process_tree(server.process.pid)) - cpu_before
                    seconds_run += time.monotonic() - started
                    results.setdefault(name, []).append((rate, p99))
                    if problems["non2xx"] or problems["errors"]:
                        print(f"    !! {name}: {problems}")
                runs = results[name]
                rate, baseline = median([r for r, _ in runs]), median(baselines)
                # CPU time per request, the server's and the baseline's: steadier than rates when other work
                # shares the cores (their ratio is what the rates' ratio would be on an idle box).
                cpu_per_request = cpu_seconds_used / max(1.0, sum(r for r, _ in runs) * arguments.seconds)
                baseline_per_request = median(baseline_cpu)
                print(
                    f"    {name:<13} {rate:>8,.0f} req/s  baseline {baseline:>7,.0f}  ratio {rate / baseline:.3f}"
                    f"  | CPU {1000 * cpu_per_request:6.2f} ms/req  baseline {1000 * baseline_per_request:5.2f}"
                    f"  CPU ratio {baseline_per_request / cpu_per_request:.3f}"
                    f"  | p99 {median([p for _, p in runs]):6.1f} ms  server {cpu_seconds_used / seconds_run:.2f} cores"
                    f"  (runs: {', '.join(format(r, ',.0f') for r, _ in runs)})",
                    flush=True,
                )
            rss, pss = memory_mib(process_tree(server.process.pid))
            print(f"  workers={workers}: after the load {rss:.0f} MiB RSS / {pss:.0f} MiB PSS")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--posts", type=int, default=40)
    parser.add_argument(
        "--no-anonymous-cache",
        dest="anonymous_cache",
        action="store_false",
        help="measure every request's own work: REVERIE_ANONYMOUS_CACHE_MS=0 (ETags stay)",
    )
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy (first run of each)")
    parser.add_argument("--profile-top", type=int, default=25)
    arguments = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    cache = "anonymous cache on" if arguments.anonymous_cache else "anonymous cache off"
    print(
        f"read endpoints on {arguments.database}: wrk -t1 -c{arguments.connections}, {arguments.posts} posts, {cache}"
    )
    for workers in arguments.workers:
        one_configuration(arguments, workers)


if __name__ == "__main__":
    main()

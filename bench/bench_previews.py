"""A link-preview stampede: many clients fetching the same post, with and without the anonymous cache.

    python bench/bench_previews.py [--database sqlite|postgres] [--seconds 4] [--connections 64]

Needs wrk. One account with ``--posts`` public posts; ``reverie serve`` (one process) twice: with the
anonymous cache off (``REVERIE_ANONYMOUS_CACHE_MS=0``) and on (the default). Against each, ``wrk -t1``
on the same post page (HTML), the same note (AS2) and the profile page, then the same with the
``If-None-Match`` a previous answer carried (304s). Beside them, measured in the same run on the same
uvicorn/starlette stack: a bare ``sqlite3`` primary-key read of one post row (the baseline the issue's
goals are ratios to).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
from harness import reverie_environment, reverie_serve, scratch_instance, wait_for_port

from fediverse.core.accounts import create_account
from fediverse.core.config import load_settings
from fediverse.services import open_services
from fediverse.social import actions
from fediverse.social.posts import PostDraft
from tests.processes import free_port, reverie_env

USER = "bench"
AS2 = "application/activity+json"
HTML = "text/html"

#: The baseline: the same uvicorn + starlette, one bare sqlite3 primary-key read per request.
BASELINE_APP = textwrap.dedent(
    """
    import sqlite3, sys, threading
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    path, port = sys.argv[1], int(sys.argv[2])
    local = threading.local()

    def connection():
        if not hasattr(local, "db"):
            local.db = sqlite3.connect(path, check_same_thread=False)
        return local.db

    async def read(request):
        row = connection().execute(
            "SELECT id, ap_id, content_html FROM posts WHERE id = ?", (int(request.path_params["id"]),)
        ).fetchone()
        return Response(repr(row).encode(), media_type="text/plain")

    app = Starlette(routes=[Route("/posts/{id:int}", read)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    """
)


async def prepare(environment: dict[str, str], posts: int) -> int:
    settings = load_settings(environment)
    async with open_services(settings, migrate=True) as services:
        await create_account(services.db, services.urls, USER)
        last = None
        for index in range(posts):
            draft = PostDraft(caption=f"Evening number {index} over the lake #dusk", mood_word="calm")
            last = await actions.publish(services, USER, draft)
    assert last is not None and last.id is not None
    return last.id


def wrk(url: str, seconds: float, connections: int, headers: dict[str, str]) -> tuple[float, int]:
    """(requests/s, non-2xx/3xx count) from one ``wrk -t1`` run."""
    # A 10 s timeout (wrk's is 2 s): an uncached page under 64 connections on a busy box answers slower
    # than that, and wrk would count none of its answers.
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rate, int(bad.group(1)) if bad else 0


def measure(url: str, arguments: argparse.Namespace, headers: dict[str, str]) -> float:
    wrk(url, 1, arguments.connections, headers)  # warm-up
    rate, bad = wrk(url, arguments.seconds, arguments.connections, headers)
    if bad:
        print(f"    !! {bad} answers were not 2xx/3xx for {url}")
    return rate


def baseline_rate(sqlite_file: Path, post_id: int, arguments: argparse.Namespace, scratch: Path) -> float:
    port = free_port()
    with (scratch / "baseline.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", BASELINE_APP, str(sqlite_file), str(port)],
            env=reverie_env({}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port)
        return measure(f"http://127.0.0.1:{port}/posts/{post_id}", arguments, {})
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--posts", type=int, default=40)
    arguments = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    print(f"preview stampede on {arguments.database}: wrk -t1 -c{arguments.connections}, {arguments.seconds:g} s each")
    with scratch_instance(arguments.database) as (data_dir, database), tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        environment = reverie_environment(base, data_dir, database.url)
        post_id = asyncio.run(prepare(environment, arguments.posts))
        # The baseline reads a post row from an SQLite file: this database's own, or a copy of the schema.
        sqlite_file = Path(database.url.removeprefix("sqlite:///")) if arguments.database == "sqlite" else None
        if sqlite_file is None:
            sqlite_file = scratch / "baseline.db"
            with scratch_instance("sqlite") as (other_dir, other):
                other_env = reverie_environment(base, other_dir, other.url)
                asyncio.run(prepare(other_env, 1))
                shutil.copyfile(Path(other.url.removeprefix("sqlite:///")), sqlite_file)
        base_rate = baseline_rate(sqlite_file, 1 if arguments.database == "postgres" else post_id, arguments, scratch)
        print(f"  baseline: bare sqlite3 primary-key read, same stack: {base_rate:,.0f} req/s")
        targets = [
            ("post page (HTML)", f"/@{USER}/{post_id}", HTML),
            ("note (AS2)", f"/users/{USER}/statuses/{post_id}", AS2),
            ("profile page (HTML)", f"/@{USER}", HTML),
        ]
        rows: dict[str, dict[str, float]] = {}
        for label, cache_ms in (("uncached", "0"), ("cached", "5000")):
            env = {**environment, "REVERIE_ANONYMOUS_CACHE_MS": cache_ms}
            with reverie_serve(env, port, scratch / f"serve-{label}.log"):
                time.sleep(1)
                for name, path, accept in targets:
                    url = base + path
                    rows.setdefault(name, {})[label] = measure(url, arguments, {"Accept": accept})
                    if label == "cached":
                        first = httpx.get(url, headers={"Accept": accept})
                        tag = first.headers.get("etag", "")
                        cookie = first.headers.get("set-cookie", "").split(";", 1)[0]
                        conditional = {"Accept": accept, "If-None-Match": tag, **({"Cookie": cookie} if cookie else {})}
                        assert httpx.get(url, headers=conditional).status_code == 304, name
                        rows[name]["304"] = measure(url, arguments, conditional)
        print(f"  {'':<20} {'uncached':>10} {'cached':>10} {'304':>10}   ratios to the baseline")
        for name, figures in rows.items():
            ratios = "  ".join(f"{figures[k] / base_rate:.3f}" for k in ("uncached", "cached", "304"))
            print(
                f"  {name:<20} {figures['uncached']:>10,.0f} {figures['cached']:>10,.0f} {figures['304']:>10,.0f}"
                f"   {ratios}"
            )


if __name__ == "__main__":
    main()

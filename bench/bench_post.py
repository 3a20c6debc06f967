"""Benchmark the posting path: generation jobs end to end, and `reverie post` until the first delivery leaves.

    python bench/bench_post.py [--runs N] [--database-url URL]

SQLite in a temporary folder unless a database URL is given. A follower's inbox is a local HTTP sink on
127.0.0.1 that notes when the first POST arrives (the bench's own monotonic clock).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import redirect_stdout
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fediverse.cli import build_parser
from fediverse.cli.posting import post_from_terminal
from fediverse.core.accounts import create_account
from fediverse.core.config import load_settings
from fediverse.generation import GenerationRequest
from fediverse.services import Services, open_services
from fediverse.studio.execution import execute_job
from fediverse.studio.generation_queue import GenerationQueue
from fediverse.studio.submission import create_job
from storage.models import Account, Actor, Follow, FollowState
from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "misty mountains at sunrise over a calm lake"


class InboxSink:
    """An inbox that answers 202 and remembers when each POST arrived."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrivals: list[float] = []
        self.first = threading.Event()
        app = Starlette(routes=[Route("/inbox", self.receive, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def receive(self, request: Request) -> Response:
        await request.body()
        self.arrivals.append(time.monotonic())
        self.first.set()
        return Response(status_code=202)

    def reset(self) -> None:
        self.arrivals.clear()
        self.first.clear()

    def __enter__(self) -> InboxSink:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def prepare(services: Services, inbox_url: str) -> Account:
    account = await create_account(services.db, services.urls, "ana")
    async with services.db.transaction() as session:
        follower = Actor(
            ap_id="http://127.0.0.1:1/users/ben",
            username="ben",
            domain="127.0.0.1:1",
            inbox_url=inbox_url,
            shared_inbox_url=inbox_url,
        )
        session.add(follower)
        await session.flush()
        session.add(Follow(follower_id=follower.id or 0, followee_id=account.actor_id, state=FollowState.ACCEPTED))
    return account


async def bench_jobs(services: Services, account: Account, runs: int) -> None:
    print("Generation jobs through the studio (procedural): job row -> painted, stamped, processed, stored drafts")
    print(f"{'size':>10} {'p50 ms':>8} {'p95 ms':>8} {'images/s':>9}")
    for width, height in ((512, 512), (1024, 1024), (1536, 1024)):
        samples = []
        for index in range(runs + 1):
            request = GenerationRequest(prompt=PROMPT, seed=index, width=width, height=height)
            job = await create_job(services, account, request, claimed=True)
            start = time.perf_counter()
            await execute_job(services, job.id or 0)
            if index:  # the first run warms caches
                samples.append((time.perf_counter() - start) * 1000)
        print(
            f"{width}x{height:<5} {percentile(samples, 0.5):8.0f} {percentile(samples, 0.95):8.0f} "
            f"{1000 / statistics.mean(samples):9.1f}"
        )
    for concurrency in (1, 2):
        queue = GenerationQueue(services, concurrency=concurrency)
        jobs = 2 * runs
        for index in range(jobs):
            request = GenerationRequest(prompt=PROMPT, seed=100 + index, width=512, height=512)
            await create_job(services, account, request)
        start = time.perf_counter()
        while await queue.run_once():
            pass
        elapsed = time.perf_counter() - start
        print(f"queue, {jobs} jobs of 512x512 at concurrency {concurrency}: {jobs / elapsed:.1f} images/s")


def post_arguments(size: str) -> argparse.Namespace:
    return build_parser().parse_args(["post", "ana", "--prompt", PROMPT, "--size", size, "--caption", "bench"])


async def timed_until_first_delivery(sink: InboxSink, action: Callable[[], Awaitable[object]]) -> float:
    sink.reset()
    start = time.monotonic()
    await action()
    if not sink.first.wait(30):
        raise RuntimeError("no delivery arrived")
    return (sink.arrivals[0] - start) * 1000


def bench_post(sink: InboxSink, environment: dict[str, str], runs: int) -> None:
    print("\n`reverie post` until the follower's inbox receives the Create (one follower, 127.0.0.1)")
    print(f"{'how':<34} {'size':>9} {'p50 ms':>8} {'p95 ms':>8}")
    quiet = io.StringIO()
    for size in ("512x512", "1024x1024"):

        async def in_process(size: str = size) -> None:
            with redirect_stdout(quiet):
                await post_from_terminal(post_arguments(size), quiet)

        samples = [asyncio.run(timed_until_first_delivery(sink, in_process)) for _ in range(runs)]
        print(
            f"{'in process (services opened)':<34} {size:>9} {percentile(samples, 0.5):8.0f} "
            f"{percentile(samples, 0.95):8.0f}"
        )
    command = [sys.executable, "-m", "fediverse", "post", "ana", "--prompt", PROMPT, "--size", "512x512"]
    samples = []
    for _ in range(runs):
        sink.reset()
        start = time.monotonic()
        subprocess.run(command, env={**os.environ, **environment}, cwd=ROOT, check=True, capture_output=True)
        if not sink.first.wait(30):
            raise RuntimeError("no delivery arrived")
        samples.append((sink.arrivals[0] - start) * 1000)
    print(
        f"{'the command, a new process':<34} {'512x512':>9} {percentile(samples, 0.5):8.0f} "
        f"{percentile(samples, 0.95):8.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", help="default: SQLite in a temporary folder")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, InboxSink() as sink:
        environment = {
            "REVERIE_DATA_DIR": folder,
            "REVERIE_ALLOW_PRIVATE_ADDRESSES": "true",
            "REVERIE_GENERATION_QUEUE_LIMIT": "1000",
            "PYTHONPATH": str(ROOT),
        }
        if arguments.database_url:
            environment["REVERIE_DATABASE_URL"] = arguments.database_url
        os.environ.update(environment)
        settings = load_settings()

        async def setup_and_jobs() -> None:
            async with open_services(settings, migrate=True) as services:
                account = await prepare(services, f"http://127.0.0.1:{sink.port}/inbox")
                await bench_jobs(services, account, arguments.runs)

        print(f"database: {settings.database_url.split('@')[-1]}\n")
        asyncio.run(setup_and_jobs())
        bench_post(sink, environment, arguments.runs)


if __name__ == "__main__":
    main()

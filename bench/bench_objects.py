"""Reads of our object URLs by peers: a public note, a followers-only note, and authorized fetch.

Run: python bench/bench_objects.py [seconds-per-case] [concurrency]
Starts ``reverie serve`` (SQLite, one web process, no worker) on 127.0.0.1, loads it from this process
with ``concurrency`` httpx clients, and prints requests/s with p50/p99 latency per case. Signed requests
reuse pre-made signatures (a GET signature stays valid for minutes), so the client spends no CPU on RSA;
the server verifies every one of them.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from activitypub.keys import generate_rsa_key_pair, load_private_key  # noqa: E402
from activitypub.signatures import sign_request  # noqa: E402
from fediverse.core.accounts import create_account  # noqa: E402
from fediverse.core.config import load_settings  # noqa: E402
from fediverse.services import open_services  # noqa: E402
from fediverse.social import actions  # noqa: E402
from fediverse.social.posts import PostDraft  # noqa: E402
from storage.models import Actor, Follow, FollowState, Visibility  # noqa: E402
from tests.processes import free_port, wait_until_up  # noqa: E402

AS2 = "application/activity+json"
PEER = "https://peer.example"


async def prepare(environ: dict[str, str], peer_public_pem: str) -> tuple[str, str]:
    """ana with a public and a followers-only post; ben at peer.example follows her (his key stored)."""
    async with open_services(load_settings(environ), migrate=True) as services:
        await create_account(services.db, services.urls, "ana")
        public = await actions.publish(services, "ana", PostDraft(caption="a public harbour"))
        private = await actions.publish(
            services, "ana", PostDraft(caption="for followers", visibility=Visibility.FOLLOWERS)
        )
        async with services.db.transaction() as session:
            ben = Actor(
                ap_id=f"{PEER}/users/ben",
                username="ben",
                domain="peer.example",
                inbox_url=f"{PEER}/users/ben/inbox",
                public_key_id=f"{PEER}/users/ben#main-key",
                public_key_pem=peer_public_pem,
            )
            session.add(ben)
            await session.flush()
            ana = await actions.load_account(services, "ana")
            session.add(Follow(follower_id=ben.id or 0, followee_id=ana[1].id or 0, state=FollowState.ACCEPTED))
        return public.ap_id, private.ap_id


@contextmanager
def serving(environ: dict[str, str], port: int, log: Path) -> Iterator[None]:
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "fediverse", "serve", "--port", str(port), "--no-worker"],
            env={**os.environ, "PYTHONPATH": str(ROOT), **environ},
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/robots.txt", process, log)
        yield
    finally:
        process.terminate()
        process.wait(timeout=15)


async def load(url: str, headers: list[dict[str, str]], seconds: float, concurrency: int) -> tuple[int, list[float]]:
    latencies: list[float] = []
    statuses: set[int] = set()
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker(offset: int) -> None:
            index = offset
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await client.get(url, headers=headers[index % len(headers)])
                latencies.append(time.perf_counter() - start)
                statuses.add(response.status_code)
                index += concurrency

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
    assert len(statuses) == 1, f"mixed answers: {statuses}"
    return statuses.pop(), latencies


def report(label: str, status: int, latencies: list[float], seconds: float) -> None:
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{label:<48} {status}  {len(latencies) / seconds:>7,.0f} req/s"
        f"  p50 {cuts[49] * 1000:6.1f} ms  p99 {cuts[98] * 1000:6.1f} ms"
    )


def signed(url: str, private_pem: str, count: int = 64) -> list[dict[str, str]]:
    key = load_private_key(private_pem)
    base = {"Accept": AS2}
    return [
        {**base, **sign_request("GET", url, base, None, key_id=f"{PEER}/users/ben#main-key", private_key=key)}
        for _ in range(count)
    ]


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    keys = generate_rsa_key_pair()
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        environ = {
            "REVERIE_BASE_URL": f"http://127.0.0.1:{port}",
            "REVERIE_DATA_DIR": folder,
            "REVERIE_LOG_LEVEL": "warning",
        }
        public_id, private_id = asyncio.run(prepare(environ, keys.public_pem))
        unsigned = [{"Accept": AS2}]
        print(f"reverie serve, SQLite, 1 web process; {concurrency} concurrent clients, {seconds:.0f} s per case")
        for authorized in ("false", "true"):
            with serving({**environ, "REVERIE_AUTHORIZED_FETCH": authorized}, port, Path(folder) / "serve.log"):
                mode = "authorized fetch" if authorized == "true" else "open"
                cases = [
                    (f"public note, unsigned ({mode})", public_id, unsigned),
                    (f"public note, signed ({mode})", public_id, signed(public_id, keys.private_pem)),
                    (f"followers-only note, signed ({mode})", private_id, signed(private_id, keys.private_pem)),
                    (f"actor document, unsigned ({mode})", f"{environ['REVERIE_BASE_URL']}/users/ana", unsigned),
                ]
                for label, url, headers in cases:
                    status, latencies = asyncio.run(load(url, headers, seconds, concurrency))
                    report(label, status, latencies, seconds)


if __name__ == "__main__":
    main()

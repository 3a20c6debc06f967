"""Idle memory of ``reverie serve``: RSS and PSS of its process tree once it is up and quiet.

    python bench/bench_idle.py [--database sqlite|postgres] [--workers 1] [--runs 3]

Each run: a fresh data folder and database; ``reverie serve`` starts on it (and migrates it: the first
start), is stopped, and starts again on the same folder (a restart, the usual case: nothing to migrate).
After each start the bench waits until the processes are listening and their CPU time stops growing,
then reads ``/proc/PID/smaps_rollup``. Baseline in the same run: a bare ``python -c 'import starlette,
uvicorn, sqlalchemy'`` process, idle — what the stack costs before Reverie's own code.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import (
    cpu_seconds,
    median,
    memory_mib,
    process_tree,
    reverie_environment,
    reverie_serve,
    scratch_instance,
)

from tests.processes import free_port

#: The stack under Reverie: imported, then idle. Printed as the same-run baseline.
BASELINE = "import starlette, uvicorn, sqlalchemy, sys; sys.stdout.write('ready\\n'); sys.stdout.flush(); input()"


def wait_until_quiet(pids_of: Callable[[], list[int]], *, window: float = 0.5, timeout: float = 15) -> None:
    """Wait until the tree's CPU time grows by under 2 % of a core over ``window`` seconds."""
    deadline = time.monotonic() + timeout
    before = cpu_seconds(pids_of())
    while time.monotonic() < deadline:
        time.sleep(window)
        after = cpu_seconds(pids_of())
        if after - before < 0.02 * window:
            return
        before = after


def baseline_mib() -> tuple[float, float]:
    process = subprocess.Popen(
        [sys.executable, "-c", BASELINE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()
        time.sleep(0.5)
        return memory_mib([process.pid])
    finally:
        process.kill()
        process.wait()


def idle_mib(environment: dict[str, str], port: int, log: Path, workers: int) -> tuple[float, float, int]:
    with reverie_serve(environment, port, log, workers=workers) as server:
        pid = server.process.pid
        wait_until_quiet(lambda: process_tree(pid))
        time.sleep(1)
        rss, pss = memory_mib(process_tree(pid))
        return rss, pss, len(process_tree(pid))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1, help="web processes (`reverie serve --workers`)")
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    command = f"reverie serve --workers {arguments.workers}"
    print(f"idle memory of `{command}` on {arguments.database}, {arguments.runs} runs")
    rows: dict[str, list[tuple[float, float]]] = {}
    processes = 0
    for _ in range(arguments.runs):
        rows.setdefault("baseline: python + starlette, uvicorn, sqlalchemy", []).append(baseline_mib())
        with scratch_instance(arguments.database) as (data_dir, database), tempfile.TemporaryDirectory() as scratch:
            port = free_port()
            environment = reverie_environment(f"http://127.0.0.1:{port}", data_dir, database.url)
            for label in ("first start (migrates)", "restart (nothing to migrate)"):
                rss, pss, processes = idle_mib(environment, port, Path(scratch) / "server.log", arguments.workers)
                rows.setdefault(f"reverie serve, {label}", []).append((rss, pss))
    base_rss = median([rss for rss, _ in rows["baseline: python + starlette, uvicorn, sqlalchemy"]])
    for label, values in rows.items():
        rss, pss = median([r for r, _ in values]), median([p for _, p in values])
        print(
            f"  {label:<48} {rss:6.1f} MiB RSS  {pss:6.1f} MiB PSS  ({rss / base_rss:.2f}x baseline RSS;"
            f" runs: {', '.join(format(r, '.0f') for r, _ in values)})"
        )
    print(f"  ({processes} process(es) in the serve tree)")


if __name__ == "__main__":
    main()

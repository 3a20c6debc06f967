"""Running ``reverie`` as a real process on 127.0.0.1, for CLI and end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

ROOT = Path(__file__).resolve().parent.parent
#: How long a real process is given to show the effect of an action (a delivery, an Accept, a stream event).
DEADLINE_SECONDS = 30
T = TypeVar("T")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def reverie_env(extra: Mapping[str, str]) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("REVERIE_")}
    environment["PYTHONPATH"] = str(ROOT)
    environment.update(extra)
    return environment


def run_reverie(
    *arguments: str, env: Mapping[str, str], stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``reverie ARGUMENTS`` to completion (as ``python -m fediverse``, so no install is needed)."""
    return subprocess.run(
        [sys.executable, "-m", "fediverse", *arguments],
        env=reverie_env(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    """Poll ``url`` until the server answers (bounded; fails fast if the process dies)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"reverie exited with {process.returncode}:\n{log.read_text()}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not come up in {timeout} s:\n{log.read_text()}")


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    log: Path
    base_url: str

    @property
    def output(self) -> str:
        return self.log.read_text()


@contextmanager
def reverie_server(
    *arguments: str, env: Mapping[str, str], port: int, log: Path, wait_path: str | None = "/robots.txt"
) -> Iterator[ServerProcess]:
    """A long-running ``reverie`` command as a process writing to ``log``, stopped with SIGTERM on exit."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "fediverse", *arguments],
            env=reverie_env(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    server = ServerProcess(process=process, log=log, base_url=f"http://127.0.0.1:{port}")
    try:
        if wait_path is not None:
            wait_until_up(server.base_url + wait_path, process, log)
        yield server
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes], *, timeout: float = 15) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def eventually(check: Callable[[], T], what: str, seconds: float = DEADLINE_SECONDS) -> T:
    """Poll ``check`` until it returns something truthy, for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)

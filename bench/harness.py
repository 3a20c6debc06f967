"""What the federation benchmarks share: a scratch instance on either database, `reverie` processes,
a key-serving peer, a raw HTTP/1.1 load client, and process CPU/memory readings from ``/proc``.

Everything listens on 127.0.0.1 only. Imported by the ``bench_*.py`` scripts (``bench/`` is on
``sys.path`` when they run); it puts the repository root first on ``sys.path`` so this checkout's code
is the code measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.processes import ServerProcess, reverie_env, stop_process  # noqa: E402

POSTGRES_SERVER_URL = os.environ.get(
    "REVERIE_BENCH_POSTGRES_URL", "postgresql://reverie:reverie@127.0.0.1:5432/postgres"
)
AS2 = "application/activity+json"


def raise_open_files_limit() -> int:
    """Lift the soft open-files limit to the hard one (1,000 listening ports need it); children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- databases -------------------------------------------------------------------------------------


@dataclass
class ScratchDatabase:
    """A fresh database for one run: a SQLite file in the data folder, or a new PostgreSQL database."""

    kind: str
    url: str
    _pg_name: str | None = None

    def drop(self) -> None:
        if self._pg_name is not None:
            run_postgres_admin(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)')


def run_postgres_admin(statement: str) -> None:
    import asyncpg  # bench-only: talks to the server directly, like the test harness

    async def run() -> None:
        connection = await asyncpg.connect(POSTGRES_SERVER_URL)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


def create_scratch_database(kind: str, data_dir: Path) -> ScratchDatabase:
    if kind == "sqlite":
        return ScratchDatabase("sqlite", f"sqlite:///{data_dir / 'reverie.db'}")
    name = f"reverie_bench_{uuid.uuid4().hex[:12]}"
    run_postgres_admin(f'CREATE DATABASE "{name}"')
    base = POSTGRES_SERVER_URL.rsplit("/", 1)[0]
    return ScratchDatabase("postgres", f"{base}/{name}", name)


@contextlib.contextmanager
def scratch_instance(kind: str) -> Iterator[tuple[Path, ScratchDatabase]]:
    """A temporary data folder and database, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="reverie-bench-") as folder:
        data_dir = Path(folder)
        database = create_scratch_database(kind, data_dir)
        try:
            yield data_dir, database
        finally:
            database.drop()


def reverie_environment(base_url: str, data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    return reverie_env(
        {
            "REVERIE_BASE_URL": base_url,
            "REVERIE_DATA_DIR": str(data_dir),
            "REVERIE_DATABASE_URL": database_url,
            "REVERIE_ALLOW_PRIVATE_ADDRESSES": "true",
            "REVERIE_LOG_LEVEL": "warning",
            **extra,
        }
    )


# -- processes -------------------------------------------------------------------------------------


@contextlib.contextmanager
def reverie_serve(
    environment: Mapping[str, str], port: int, log: Path, *, workers: int = 1, extra_args: Sequence[str] = ()
) -> Iterator[ServerProcess]:
    """``reverie serve`` on 127.0.0.1:``port``, up and answering; stopped with SIGTERM afterwards."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "fediverse", "serve", "--port", str(port), "--workers", str(workers), *extra_args],
            env=dict(environment),
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    server = ServerProcess(process, log, f"http://127.0.0.1:{port}")
    try:
        wait_until_listening(port, process, log)
        yield server
    finally:
        stop_process(process)


def wait_until_listening(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"reverie exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
            probe.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            if probe.recv(16).startswith(b"HTTP/1.1 200"):
                return
        time.sleep(0.1)
    raise TimeoutError(f"reverie did not come up on port {port}:\n{log.read_text()}")


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's supervisor has the web workers as children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of these processes so far (threads included)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def memory_mib(pids: Sequence[int]) -> tuple[float, float]:
    """(RSS, PSS) in MiB, summed over ``pids`` (PSS splits shared pages fairly between processes)."""
    rss = pss = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                name, _, rest = line.partition(":")
                if name == "Rss":
                    rss += int(rest.split()[0])
                elif name == "Pss":
                    pss += int(rest.split()[0])
    return rss / 1024, pss / 1024


def spawn(target: Any, *args: Any) -> multiprocessing.process.BaseProcess:
    process = multiprocessing.get_context("spawn").Process(target=target, args=args, daemon=True)
    process.start()
    return process


# -- a peer that serves actor documents (their keys) -----------------------------------------------


def actor_document(base_url: str, index: int, public_pem: str) -> dict[str, Any]:
    actor_id = f"{base_url}/users/u{index}"
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": actor_id,
        "type": "Person",
        "preferredUsername": f"u{index}",
        "name": f"Peer {index}",
        "url": f"{base_url}/@u{index}",
        "inbox": f"{actor_id}/inbox",
        "outbox": f"{actor_id}/outbox",
        "followers": f"{actor_id}/followers",
        "following": f"{actor_id}/following",
        "endpoints": {"sharedInbox": f"{base_url}/inbox"},
        "publicKey": {"id": f"{actor_id}#main-key", "owner": actor_id, "publicKeyPem": public_pem},
    }


def serve_documents(port: int, documents: dict[str, bytes]) -> None:
    """Run a tiny ASGI server answering GET ``path`` with ``documents[path]`` (404 otherwise)."""
    import uvicorn

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = documents.get(scope["path"])
        status = 200 if body is not None else 404
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", AS2.encode())]})
        await send({"type": "http.response.body", "body": body or b""})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


# -- a raw HTTP/1.1 load client --------------------------------------------------------------------


@dataclass
class LoadResult:
    sent: int
    statuses: dict[int, int]
    latencies: list[float]
    seconds: float
    cpu_seconds: float


async def round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one pre-built HTTP/1.1 request on a keep-alive connection and read its whole answer: the status."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return int(head[9:12])


async def _fire(port: int, requests: list[bytes], connections: int, seconds: float) -> LoadResult:
    queue = iter(requests)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in queue:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                status = await round_trip(reader, writer, request)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    cpu_before = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return LoadResult(len(latencies), statuses, latencies, elapsed, time.process_time() - cpu_before)


def fire_requests(port: int, request_file: str, connections: int, seconds: float, result_file: str) -> None:
    """Load-process entry point: send each pre-built request once over ``connections`` keep-alive
    connections (at most ``seconds``), and write the outcome as JSON."""
    import uvloop

    requests = json.loads(Path(request_file).read_text())
    encoded = [item.encode("latin-1") for item in requests]
    result = uvloop.run(_fire(port, encoded, connections, seconds))
    Path(result_file).write_text(json.dumps(result.__dict__))


def run_load(port: int, requests: list[bytes], *, connections: int, seconds: float, scratch: Path) -> LoadResult:
    request_file, result_file = scratch / "requests.json", scratch / "result.json"
    request_file.write_text(json.dumps([item.decode("latin-1") for item in requests]))
    process = spawn(fire_requests, port, str(request_file), connections, seconds, str(result_file))
    process.join(seconds + 120)
    if process.exitcode != 0:
        raise RuntimeError(f"the load process failed with {process.exitcode}")
    loaded = json.loads(result_file.read_text())
    loaded["statuses"] = {int(key): value for key, value in loaded["statuses"].items()}
    return LoadResult(**loaded)


# -- profiling -------------------------------------------------------------------------------------


@contextlib.contextmanager
def profiled(pid: int, output: Path, *, enabled: bool = True, rate: int = 250) -> Iterator[None]:
    """Sample ``pid`` and its children with py-spy (the ``bench`` extra) while the block runs."""
    if not enabled:
        yield
        return
    beside = Path(sys.executable).with_name("py-spy")
    recorder = subprocess.Popen(
        [
            str(beside) if beside.exists() else shutil.which("py-spy") or "py-spy",  # the venv's, else on PATH
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--output",
            str(output),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(60)


def summarize_profile(collapsed: Path, *, top: int = 25, focus: str = "", threads: str = "") -> str:
    """Inclusive and self sample shares per function from py-spy's collapsed stacks, for the event loop's
    thread (helper threads waiting in C, such as aiosqlite's, would otherwise count as busy). ``threads``:
    also the helper threads' stacks that contain it (e.g. ``_write_unit`` for units of work)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not samples.isdigit() or (focus and focus not in stack):
            continue
        if "Thread._bootstrap" in stack and not (threads and threads in stack):
            continue
        weight = int(samples)
        total += weight
        frames = [
            frame.split(" (")[0] + " (" + frame.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] + ")"
            for frame in stack.split(";")
        ]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + weight
        own[frames[-1]] = own.get(frames[-1], 0) + weight
    if not total:
        return "(no samples)"
    lines = [f"{total} samples"]
    lines.append("inclusive:")
    for frame, weight in sorted(inclusive.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"  {100 * weight / total:5.1f}%  {frame}")
    lines.append("self:")
    for frame, weight in sorted(own.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"  {100 * weight / total:5.1f}%  {frame}")
    return "\n".join(lines)


@contextlib.contextmanager
def reverie_worker(environment: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A ``reverie worker`` process, stopped with SIGTERM afterwards."""
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "fediverse", "worker"],
            env=dict(environment),
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        yield process
    finally:
        stop_process(process)


# -- a sink standing for many remote hosts ---------------------------------------------------------


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed ECDSA P-256 certificate for 127.0.0.1 (what the sink serves with ``--tls``)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "sink.crt", folder / "sink.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def run_sink(
    ports: list[int],
    control: Any,
    cert: str | None,
    key: str | None,
    delay: float,
    slow: int = 0,
    slow_delay: float = 0,
) -> None:
    """Sink process: listen on every port of ``ports`` (each one a remote host), answer each POST with 202
    after ``delay`` seconds (the first ``slow`` ports after ``slow_delay``), count arrivals per port.

    Over ``control`` (a Pipe end): ``("ready",)`` once listening; ``("expect", n, fast)`` arms it;
    ``("fast", t)`` is sent when the ports that are not slow have had ``fast`` arrivals and ``("done", t)``
    at the n-th arrival (monotonic times); ``("stats",)`` asks for the counts so far."""
    import threading

    import uvicorn
    import uvloop

    counts: dict[int, int] = {}
    state = {"expected": 0, "total": 0, "expected_fast": 0, "fast": 0}
    slow_ports = set(ports[:slow])
    sending = threading.Lock()

    def report(message: tuple[Any, ...]) -> None:
        with sending:
            control.send(message)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        port = scope["server"][1]
        counts[port] = counts.get(port, 0) + 1
        state["total"] += 1
        if port not in slow_ports:
            state["fast"] += 1
            if state["fast"] == state["expected_fast"]:
                report(("fast", time.monotonic()))
        if state["total"] == state["expected"]:
            report(("done", time.monotonic()))
        wait = slow_delay if port in slow_ports else delay
        if wait:
            await asyncio.sleep(wait)
        await send({"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    def listen_for_commands() -> None:
        while True:
            try:
                command = control.recv()
            except (EOFError, OSError):
                return
            if command[0] == "expect":
                counts.clear()
                state.update(expected=command[1], total=0, expected_fast=command[2], fast=0)
            elif command[0] == "stats":
                stats = {"total": state["total"], "ports": len(counts), "per_port_max": max(counts.values(), default=0)}
                report(("stats", stats))

    sockets = []
    for port in ports:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(256)
        listener.set_inheritable(True)
        sockets.append(listener)
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        access_log=False,
        ssl_certfile=cert,
        ssl_keyfile=key,
        loop="uvloop",
        http="httptools",
        backlog=256,
    )
    server = uvicorn.Server(config)
    threading.Thread(target=listen_for_commands, daemon=True).start()
    report(("ready",))
    uvloop.run(server.serve(sockets=sockets))


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports (bound together so none repeats)."""
    probes = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            probes.append(probe)
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()

"""What the deployment tests share: a throwaway certificate authority, the documented proxy configurations
run for real (nginx, Caddy) on loopback, and Reverie instances behind them.

The configurations are the files under ``deploy/``, used verbatim except for a few exact substitutions
(domain → loopback address, ports, certificate paths); each substitution must find its text, so a file
that drifts from what the test expects fails the test instead of being silently tested half.

Addresses: each instance has its own loopback address (Linux routes all of 127.0.0.0/8 to ``lo``), so
``https://127.0.0.1:PORT`` and ``https://127.0.0.2:PORT`` are two servers with two certificates, as two
domains would be. ``reverie serve`` itself listens on 127.0.0.1, where the proxies connect from.
"""

from __future__ import annotations

import datetime
import getpass
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import websockets.sync.client
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select

from fediverse.imaging import ImageLimits
from fediverse.web.client_api.auth import hash_token, new_token_row
from fediverse.web.sessions import FORM_COOKIE
from storage.db import Database
from storage.models import Account, Follow, FollowState, OAuthApp, Post, SignInFailure
from tests.fediverse.web.conftest import BROWSER, PASSWORD, form_token_of
from tests.processes import ROOT, eventually, free_port, reverie_server, run_reverie
from tests.seeding import on_database, read_rows

DEPLOY = ROOT / "deploy"
NGINX_SITE = DEPLOY / "nginx" / "reverie.conf"
CADDYFILE = DEPLOY / "caddy" / "Caddyfile"
DEADLINE_SECONDS = 60
AS2 = {"Accept": "application/activity+json"}
MAX_IMAGE_BYTES = ImageLimits().max_bytes


def find_program(name: str) -> str | None:
    """``name`` on the PATH, or in the sbin folders a non-root PATH leaves out (Debian's nginx is there)."""
    return shutil.which(name) or next(
        (str(path) for path in (Path("/usr/sbin") / name, Path("/sbin") / name) if os.access(path, os.X_OK)), None
    )


def substitute(text: str, replacements: dict[str, str]) -> str:
    """``text`` with each key replaced; a key that is not there fails (the file drifted from the test)."""
    for old, new in replacements.items():
        assert old in text, f"the documented configuration no longer contains {old!r}"
        text = text.replace(old, new)
    return text


# A throwaway certificate authority ---------------------------------------------------------------------


@dataclass
class LocalCA:
    """A CA made for one test: its certificate is what the Reverie processes and the test trust."""

    folder: Path
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def bundle(self) -> Path:
        return self.folder / "ca.pem"

    @classmethod
    def create(cls, folder: Path) -> LocalCA:
        folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Reverie deployment test CA")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        authority = cls(folder, key, certificate)
        authority.bundle.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return authority

    def issue(self, address: str) -> tuple[Path, Path]:
        """A server certificate for the IP ``address``: (full chain, private key) as PEM files."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        chain = self.folder / f"{address}.fullchain.pem"
        private = self.folder / f"{address}.key.pem"
        chain.write_bytes(
            certificate.public_bytes(serialization.Encoding.PEM)
            + self.certificate.public_bytes(serialization.Encoding.PEM)
        )
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        private.chmod(0o600)
        return chain, private

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.bundle))


# The proxies -----------------------------------------------------------------------------------------


@dataclass
class Site:
    """Where a proxy listens (``address:port``, TLS) in front of ``reverie serve`` on ``app_port``."""

    address: str
    port: int
    app_port: int
    certificate: Path
    key: Path

    @property
    def origin(self) -> str:
        return f"https://{self.address}:{self.port}"


def nginx_site(site: Site, folder: Path, http_port: int) -> str:
    """deploy/nginx/reverie.conf for ``site``: loopback addresses and ports, the test's certificates."""
    text = substitute(
        NGINX_SITE.read_text(),
        {
            "/etc/letsencrypt/live/reverie.example/fullchain.pem": str(site.certificate),
            "/etc/letsencrypt/live/reverie.example/privkey.pem": str(site.key),
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{site.app_port};",
            "listen 443 ssl http2;": f"listen {site.address}:{site.port} ssl http2;",
            "listen 80;": f"listen {site.address}:{http_port};",
            "root /var/www/html;": f"root {folder / 'www'};",
            "server_name reverie.example;": f"server_name {site.address};",
        },
    )
    # IPv6 listeners would be on every interface: the test stays on its loopback address
    lines = text.splitlines(keepends=True)
    assert any("listen [::]:" in line for line in lines)
    return "".join(line for line in lines if "listen [::]:" not in line)


def _nginx_main(folder: Path) -> str:
    """The ``nginx.conf`` around the site, as Debian's includes sites-enabled/ in its ``http`` block."""
    temp = folder / "temp"
    # As root, nginx's workers would otherwise run as nobody, who cannot write this test's 0700 folders;
    # as anyone else the directive is ignored.
    user = "root root" if os.geteuid() == 0 else getpass.getuser()
    return f"""
daemon off;
user {user};
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} notice;
events {{ worker_connections 256; }}
http {{
    access_log {folder / "access.log"};
    client_body_temp_path {temp / "body"};
    proxy_temp_path {temp / "proxy"};
    fastcgi_temp_path {temp / "fastcgi"};
    uwsgi_temp_path {temp / "uwsgi"};
    scgi_temp_path {temp / "scgi"};
    include {folder / "reverie.conf"};
}}
"""


def wait_for_port(address: str, port: int, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{_tail(log)}")
        try:
            with socket.create_connection((address, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{what} did not listen on {address}:{port}:\n{_tail(log)}")


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:] if path.exists() else "(no log)"


def _stop(process: subprocess.Popen[bytes], signum: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_nginx(nginx: str, site: Site, folder: Path) -> Iterator[Path]:
    """Debian's nginx in the foreground with the documented site; yields its folder (logs there)."""
    folder.mkdir(parents=True)
    (folder / "temp").mkdir()
    (folder / "www").mkdir()
    http_port = free_port(site.address)
    (folder / "reverie.conf").write_text(nginx_site(site, folder, http_port))
    (folder / "nginx.conf").write_text(_nginx_main(folder))
    command = [nginx, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", str(folder / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    log = folder / "nginx.out"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_for_port(site.address, site.port, process, folder / "error.log", "nginx")
        (folder / "http_port").write_text(str(http_port))
        yield folder
    finally:
        _stop(process, signal.SIGQUIT)  # nginx's graceful shutdown


def caddy_site(site: Site) -> str:
    """deploy/caddy/Caddyfile for ``site``: the test's certificate instead of ACME; before it, the options
    a test needs: no admin endpoint, nothing on port 80, no HTTP/3 (UDP on every interface), no changes
    to the system's trust store."""
    text = substitute(
        CADDYFILE.read_text(),
        {
            "reverie.example {": f"{site.origin} {{\n\ttls {site.certificate} {site.key}",
            "reverse_proxy 127.0.0.1:8000": f"reverse_proxy 127.0.0.1:{site.app_port}",
        },
    )
    options = "admin off\n\tauto_https disable_redirects\n\tskip_install_trust\n\tservers {\n\t\tprotocols h1 h2\n\t}"
    return f"{{\n\t{options}\n}}\n\n{text}"


@contextmanager
def running_caddy(caddy: str, site: Site, folder: Path) -> Iterator[Path]:
    folder.mkdir(parents=True)
    (folder / "Caddyfile").write_text(caddy_site(site))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(folder),
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_CONFIG_HOME": str(folder / "config"),
    }
    command = [caddy, "run", "--config", str(folder / "Caddyfile"), "--adapter", "caddyfile"]
    log = folder / "caddy.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=folder)
    try:
        wait_for_port(site.address, site.port, process, log, "caddy")
        yield folder
    finally:
        _stop(process)


# Reverie behind them ---------------------------------------------------------------------------------


@dataclass
class Instance:
    """One ``reverie serve`` process, known to the world as ``site.origin``."""

    name: str
    site: Site
    env: dict[str, str]
    database_url: str
    log: Path
    ca: LocalCA

    @property
    def base_url(self) -> str:
        return self.site.origin

    @property
    def host(self) -> str:
        return self.base_url.removeprefix("https://")

    @property
    def app_url(self) -> str:
        """``reverie serve`` itself, not through the proxy."""
        return f"http://127.0.0.1:{self.site.app_port}"

    def reverie(self, *arguments: str, stdin: str | None = None) -> str:
        result = run_reverie(*arguments, env=self.env, stdin=stdin, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def read(self, statement: Any) -> list[Any]:
        """Rows of a ``select`` on this instance's database, read from outside the process."""
        return read_rows(self.database_url, statement)

    def client_api_token(self, username: str, scopes: str = "read write") -> str:
        """An access token of ``username`` for a client app, written into the database as the consent page's
        approval would (the OAuth round trip itself is tested in tests/clients)."""

        async def write(database: Database) -> str:
            async with database.transaction() as session:
                account_id = await session.scalar(select(Account.id).where(Account.username == username))
                app = OAuthApp(client_id=f"deploy-{username}", client_secret_hash=hash_token("-"), name="deploy")
                session.add(app)
                await session.flush()
                assert app.id is not None and account_id is not None
                access, _, row = new_token_row(app.id, account_id, scopes)
                session.add(row)
            return access

        return on_database(self.database_url, write)

    def browser(self, *, source: str = "127.0.0.1", direct: bool = False) -> httpx.Client:
        """An HTTP client from the loopback address ``source``, through the proxy (TLS, trusting only
        the test's CA) or, with ``direct``, to ``reverie serve`` itself."""
        transport = httpx.HTTPTransport(local_address=source, verify=self.ca.client_context())
        base = self.app_url if direct else self.base_url
        return httpx.Client(base_url=base, transport=transport, timeout=60, headers=BROWSER)


@contextmanager
def running_instance(folder: Path, name: str, database_url: str, site: Site, ca: LocalCA) -> Iterator[Instance]:
    """``reverie serve`` on 127.0.0.1:``site.app_port`` with ``REVERIE_BASE_URL`` the proxy's origin;
    the processes (server and commands) trust the test's CA through ``SSL_CERT_FILE``."""
    env = {
        "REVERIE_BASE_URL": site.origin,
        "REVERIE_DATA_DIR": str(folder / name),
        "REVERIE_DATABASE_URL": database_url,
        "REVERIE_ALLOW_PRIVATE_ADDRESSES": "true",
        "SSL_CERT_FILE": str(ca.bundle),
    }
    log = folder / f"{name}.log"
    instance = Instance(name, site, env, database_url, log, ca)
    with reverie_server("serve", "--port", str(site.app_port), env=env, port=site.app_port, log=log):
        yield instance


# Checks both proxies pass --------------------------------------------------------------------------


def sign_in(browser: httpx.Client, username: str, password: str) -> httpx.Response:
    """Post the sign-in form as a browser does: the form's token, and its cookie (sent by hand, as the
    cookie is ``Secure`` on an https instance and a direct request to the app is plain http)."""
    page = browser.get("/login")
    assert page.status_code == 200, page.text
    token = form_token_of(page.text)
    return browser.post(
        "/login",
        data={"username": username, "password": password, "form_token": token, "next": "/"},
        headers={"Cookie": f"{FORM_COOKIE}={token}"},  # the token is the cookie's value (double submit)
    )


def csrf_token(browser: httpx.Client) -> str:
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', browser.get("/compose").text)
    assert found, "no CSRF token on the compose page"
    return found.group(1)


def padded_png(size: int) -> bytes:
    """A valid 8×8 PNG of ``size`` bytes: the pixels, then a private ancillary chunk as padding (which
    decoders skip), so the body is as large as a big photo without costing a big photo's decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
    pixels = chunk(b"IDAT", zlib.compress(b"".join(b"\x00" + bytes([40, 90, 160]) * 8 for _ in range(8))))
    end = chunk(b"IEND", b"")
    padding = size - len(header) - len(pixels) - len(end) - 12
    return header + chunk(b"prVt", b"\x00" * padding) + pixels + end


def read_events(browser: httpx.Client, url: str, headers: dict[str, str]) -> tuple[httpx.Headers, list[str]]:
    """A server-sent event stream's headers and event names, read as they arrive until a terminal one."""
    names: list[str] = []
    with browser.stream("GET", url, headers={**headers, "Accept": "text/event-stream"}) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event: "):
                names.append(line.removeprefix("event: "))
                if names[-1] in ("completed", "failed", "cancelled"):
                    break
        return response.headers, names


def create_user(instance: Instance, username: str, *, password: bool = True) -> None:
    if password:
        instance.reverie("user", "create", username, "--password-stdin", stdin=PASSWORD + "\n")
    else:
        instance.reverie("user", "create", username, "--no-password")


# What both proxies must get right, checked on instance ``a`` with its user ``ana`` ------------------------


def follow_each_other_and_deliver_a_post(a: Instance, b: Instance) -> None:
    """ana on A and bob on B follow each other from their terminals; bob's post reaches A. Every request
    between them goes through the proxies: WebFinger, signed fetches, signed deliveries to the inboxes."""
    accepted = select(Follow.id).where(Follow.state == FollowState.ACCEPTED)
    a.reverie("follow", "ana", f"@bob@{b.host}")
    b.reverie("follow", "bob", f"@ana@{a.host}")
    # Both follows are accepted, on both sides: each Follow and each Accept passed a signature check
    eventually(
        lambda: len(a.read(accepted)) == 2 and len(b.read(accepted)) == 2,
        "both follows to be accepted",
        DEADLINE_SECONDS,
    )
    line = b.reverie("post", "bob", "--prompt", "a lighthouse in sea fog", "--caption", "fog over the light")
    post_id = f"{b.base_url}/users/bob/statuses/{line.strip().splitlines()[-1].rsplit('/', 1)[1]}"
    eventually(lambda: a.read(select(Post.id).where(Post.ap_id == post_id)), "bob's post to reach A", DEADLINE_SECONDS)
    ((content,),) = a.read(select(Post.content_html).where(Post.ap_id == post_id))
    assert "fog over the light" in content
    # Ids, keys and inboxes name the public https origins, never the app's own loopback port
    with a.browser() as browser:
        actor = browser.get("/users/ana", headers=AS2).json()
    assert actor["id"] == f"{a.base_url}/users/ana"
    assert actor["inbox"].startswith(f"{a.base_url}/")


def client_addresses_reach_the_rate_limit(a: Instance) -> None:
    """The address the sign-in throttle counts (and the request log shows) is the client's: the one the
    proxy saw, whatever X-Forwarded-For the client made up; a request sent to the app directly, not
    from the proxy, is counted by its own address even when it carries X-Forwarded-For."""
    forged = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    with a.browser(source="127.0.0.3") as through_proxy:
        through_proxy.headers.update(forged)
        assert sign_in(through_proxy, "ana", "not her password").status_code == 400
    with a.browser(source="127.0.0.4", direct=True) as direct:
        direct.headers.update(forged)
        assert sign_in(direct, "ana", "not her password").status_code == 400
    keys = {key for (key,) in a.read(select(SignInFailure.key))}
    assert keys == {
        "address:127.0.0.3",
        "user:ana address:127.0.0.3",
        "address:127.0.0.4",
        "user:ana address:127.0.0.4",
    }
    log = a.log.read_text()
    assert re.search(r"POST /login 400 .* client=127\.0\.0\.3", log), log[-2000:]
    assert re.search(r"POST /login 400 .* client=127\.0\.0\.4", log), log[-2000:]
    assert "203.0.113.9" not in log


def large_uploads_and_events_pass(a: Instance, *, proxy_refuses_large_bodies: bool) -> None:
    """A picture just under Reverie's limit goes through the proxy; a larger body is refused (by nginx
    itself; Caddy passes it on and Reverie refuses it from its declared length); a generation's
    server-sent events arrive through the proxy as the job runs."""
    with a.browser() as browser:
        assert sign_in(browser, "ana", PASSWORD).status_code == 303
        headers = {"X-CSRF-Token": csrf_token(browser)}
        large = padded_png(MAX_IMAGE_BYTES - 1024)
        uploaded = browser.post(
            "/api/media", files={"file": ("large.png", large, "image/png")}, data={"alt_text": "x"}, headers=headers
        )
        assert uploaded.status_code == 201, uploaded.text[:500]
        del large
        too_large = browser.post(
            "/api/media", files={"file": ("huge.png", b"\0" * (41 * 1024 * 1024 + 1), "image/png")}, headers=headers
        )
        assert too_large.status_code == 413
        if proxy_refuses_large_bodies:  # nginx's own page: the body never reached the app
            assert "413 Request Entity Too Large" in too_large.text
        else:  # Reverie's answer, from the declared length, before reading the body
            assert "The picture is too large" in too_large.text

        job = browser.post("/api/generations", json={"prompt": "a paper boat on a pond"}, headers=headers)
        assert job.status_code == 202, job.text
        assert job.json()["events_url"].startswith(f"{a.base_url}/api/generations/")
        response_headers, events = read_events(browser, job.json()["events_url"], headers)
    assert response_headers["content-type"].startswith("text/event-stream")
    assert events[-1] == "completed", events


def streaming_passes(a: Instance) -> None:
    """The client API's WebSocket (``/api/v1/streaming``) is upgraded through the proxy: an app subscribed to
    ana's ``user`` stream receives her new post as an ``update`` event."""
    token = a.client_api_token("ana")
    url = f"wss://{a.host}/api/v1/streaming?stream=user"
    headers = {"Authorization": f"Bearer {token}"}
    with websockets.sync.client.connect(url, ssl=a.ca.client_context(), additional_headers=headers) as socket:
        with a.browser() as client:
            posted = client.post("/api/v1/statuses", data={"status": "through the proxy"}, headers=headers)
        assert posted.status_code == 200, posted.text
        while True:
            message = json.loads(socket.recv(timeout=DEADLINE_SECONDS))
            if message["event"] == "update":
                break
    assert message["stream"] == ["user"]
    assert json.loads(message["payload"])["id"] == posted.json()["id"]

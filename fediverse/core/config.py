"""Settings, read once at start from ``REVERIE_*`` environment variables (and an optional TOML file).

Nothing here runs at import time: the CLI and ``create_app_from_env`` call ``load_settings()`` and pass
the result down. A wrong value raises ``ConfigError`` naming the variable, so start-up fails with a
message a person can act on.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from storage.db import DatabaseURLError, normalize_url

ENV_PREFIX = "REVERIE_"
DEFAULT_DATA_DIR = "reverie-data"
DEFAULT_PORT = 8000
REGISTRATION_MODES = ("closed", "invite", "open")
LOG_FORMATS = ("text", "json")
MAX_DRAFT_RETENTION_HOURS = 24 * 365 * 10
MAX_INBOX_RATE = 10_000_000
#: A key fetch's own limit (activitypub.fetch): waiting longer would never help.
MAX_KEY_FETCH_TIMEOUT_MS = 30_000
#: A kept anonymous answer is at most this old (a minute): longer would hide what the cache cannot see change.
MAX_ANONYMOUS_CACHE_MS = 60_000
#: A reverse proxy on the same machine, over IPv4 or IPv6 loopback.
DEFAULT_TRUSTED_PROXIES = ("127.0.0.1", "::1")
MAX_REMOTE_MEDIA_DAYS = 3650


class ConfigError(ValueError):
    """A configuration value is missing or invalid; ``variable`` names the setting."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    base_url: str
    data_dir: Path
    database_url: str
    generator: str = "procedural"
    authorized_fetch: bool = False
    allow_private_addresses: bool = False
    instance_name: str = "Reverie"
    registrations: str = "closed"
    log_level: str = "info"
    run_worker: bool = True
    #: How long a request waits for SQLite's write lock before failing with 503.
    sqlite_busy_timeout_ms: int = 10_000
    #: How long a generated or uploaded image may stay unpublished before housekeeping removes it.
    draft_retention_hours: int = 24
    #: Activities per second one sending server may deliver to our inboxes, sustained (0: no limit), and
    #: how many it may send at once beyond that (the bucket's size); per web process.
    inbox_rate_per_second: int = 100
    inbox_rate_burst: int = 1000
    #: How long a request (inbox POST, signed GET) may wait for its signer's key to be fetched.
    key_fetch_timeout_ms: int = 5000
    #: The bearer token ``/metrics`` asks for; without one ``/metrics`` is not served (404).
    metrics_token: str | None = field(default=None, repr=False)
    #: ``text`` (lines for people) or ``json`` (one object a line, for log shippers).
    log_format: str = "text"
    #: How long a web process reuses an answer made for a reader who is not signed in (profile, post and
    #: tag pages; actor, note and outbox documents), in milliseconds; 0 turns that cache off
    #: (``fediverse.web.anonymous_cache``). Conditional GETs (ETag, 304) are answered either way.
    anonymous_cache_ms: int = 5000
    #: The addresses (or networks) whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed: the
    #: reverse proxy in front of ``reverie serve``. From anyone else those headers are ignored, so the
    #: client address in logs and sign-in throttling is the connecting one (docs/decisions/0062).
    trusted_proxies: tuple[str, ...] = DEFAULT_TRUSTED_PROXIES
    #: How many days a cached copy of a remote file (attachment, avatar, header, emoji) is kept before
    #: housekeeping removes it; it is fetched again when someone views it (decision 0059). 0: kept forever.
    remote_media_days: int = 7
    #: Every other ``REVERIE_*`` variable, for components that read their own (generator backends).
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        """The host (with port when not the default) that ``acct:`` handles and ids use."""
        return urlsplit(self.base_url).netloc

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    def with_changes(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def load_settings(environ: Mapping[str, str] | None = None, *, default_base_url: str | None = None) -> Settings:
    """Build ``Settings`` from the environment (``os.environ`` unless given).

    ``REVERIE_CONFIG_FILE`` may name a TOML file whose keys are the variable names without the prefix,
    in lower case (``base_url = "https://…"``); environment variables win over the file.
    """
    values = _collect(os.environ if environ is None else environ)
    base_url = values.pop("BASE_URL", None) or default_base_url or f"http://127.0.0.1:{DEFAULT_PORT}"
    data_dir = Path(values.pop("DATA_DIR", DEFAULT_DATA_DIR)).expanduser().resolve()
    database_url = values.pop("DATABASE_URL", None) or f"sqlite:///{data_dir / 'reverie.db'}"
    registrations = values.pop("REGISTRATIONS", "closed").strip().lower()
    if registrations not in REGISTRATION_MODES:
        raise ConfigError("REVERIE_REGISTRATIONS", f"must be one of {', '.join(REGISTRATION_MODES)}")
    log_format = values.pop("LOG_FORMAT", "text").strip().lower() or "text"
    if log_format not in LOG_FORMATS:
        raise ConfigError("REVERIE_LOG_FORMAT", f"must be one of {', '.join(LOG_FORMATS)}")
    return Settings(
        base_url=validate_base_url(base_url),
        data_dir=data_dir,
        database_url=_validate_database_url(database_url),
        generator=values.pop("GENERATOR", "procedural").strip().lower() or "procedural",
        authorized_fetch=_parse_bool("AUTHORIZED_FETCH", values.pop("AUTHORIZED_FETCH", "false")),
        allow_private_addresses=_parse_bool("ALLOW_PRIVATE_ADDRESSES", values.pop("ALLOW_PRIVATE_ADDRESSES", "false")),
        instance_name=values.pop("INSTANCE_NAME", "Reverie").strip() or "Reverie",
        registrations=registrations,
        log_level=values.pop("LOG_LEVEL", "info").strip().lower(),
        run_worker=_parse_bool("RUN_WORKER", values.pop("RUN_WORKER", "true")),
        sqlite_busy_timeout_ms=_parse_int(
            "SQLITE_BUSY_TIMEOUT_MS", values.pop("SQLITE_BUSY_TIMEOUT_MS", "10000"), 1, 600_000
        ),
        draft_retention_hours=_parse_int(
            "DRAFT_RETENTION_HOURS", values.pop("DRAFT_RETENTION_HOURS", "24"), 1, MAX_DRAFT_RETENTION_HOURS
        ),
        inbox_rate_per_second=_parse_int(
            "INBOX_RATE_PER_SECOND", values.pop("INBOX_RATE_PER_SECOND", "100"), 0, MAX_INBOX_RATE
        ),
        inbox_rate_burst=_parse_int("INBOX_RATE_BURST", values.pop("INBOX_RATE_BURST", "1000"), 1, MAX_INBOX_RATE),
        key_fetch_timeout_ms=_parse_int(
            "KEY_FETCH_TIMEOUT_MS", values.pop("KEY_FETCH_TIMEOUT_MS", "5000"), 100, MAX_KEY_FETCH_TIMEOUT_MS
        ),
        metrics_token=values.pop("METRICS_TOKEN", "").strip() or None,
        log_format=log_format,
        anonymous_cache_ms=_parse_int(
            "ANONYMOUS_CACHE_MS", values.pop("ANONYMOUS_CACHE_MS", "5000"), 0, MAX_ANONYMOUS_CACHE_MS
        ),
        trusted_proxies=_parse_proxies(values.pop("TRUSTED_PROXIES", ",".join(DEFAULT_TRUSTED_PROXIES))),
        remote_media_days=_parse_int(
            "REMOTE_MEDIA_DAYS", values.pop("REMOTE_MEDIA_DAYS", "7"), 0, MAX_REMOTE_MEDIA_DAYS
        ),
        extra={ENV_PREFIX + key: value for key, value in values.items()},
    )


def _collect(environ: Mapping[str, str]) -> dict[str, str]:
    """Merge the optional TOML file with the environment; keys lose the ``REVERIE_`` prefix."""
    values: dict[str, str] = {}
    config_file = environ.get(ENV_PREFIX + "CONFIG_FILE")
    if config_file:
        values.update(_read_toml(config_file))
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX) and key != ENV_PREFIX + "CONFIG_FILE":
            values[key.removeprefix(ENV_PREFIX)] = value
    return values


def _read_toml(path: str) -> dict[str, str]:
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as error:
        raise ConfigError("REVERIE_CONFIG_FILE", f"cannot read {path}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError("REVERIE_CONFIG_FILE", f"{path} is not valid TOML: {error}") from error
    values = {}
    for key, value in document.items():
        if isinstance(value, dict | list):
            raise ConfigError("REVERIE_CONFIG_FILE", f"{key} must be a plain value")
        values[key.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
    return values


def is_loopback_host(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def validate_base_url(raw: str) -> str:
    """A public origin: ``https://host[:port]``; ``http://`` only for loopback development and tests."""
    variable = "REVERIE_BASE_URL"
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
    except ValueError as error:
        raise ConfigError(variable, f"not a URL: {raw!r}") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(variable, f"must be an http(s) origin such as https://example.com, got {raw!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ConfigError(variable, f"must be an origin without path, query or credentials, got {raw!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(variable, "plain http:// is only allowed for loopback addresses; use https://")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default_port = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default_port else "")


def _validate_database_url(raw: str) -> str:
    try:
        normalize_url(raw)
    except DatabaseURLError as error:
        raise ConfigError("REVERIE_DATABASE_URL", str(error)) from error
    return raw


def _parse_int(name: str, raw: str, low: int, high: int) -> int:
    value = raw.strip()
    if not value.isdigit() or not low <= int(value) <= high:
        raise ConfigError(ENV_PREFIX + name, f"must be a whole number from {low} to {high}, got {raw!r}")
    return int(value)


def _parse_proxies(raw: str) -> tuple[str, ...]:
    """Addresses and networks (``10.0.0.0/8``), comma-separated, in their canonical spelling; empty: none.

    ``*`` is refused: believing every sender's ``X-Forwarded-For`` lets anyone choose the address that
    sign-in throttling counts. (``0.0.0.0/0`` still says so, on purpose.)"""
    proxies: list[str] = []
    for item in raw.split(","):
        value = item.strip()
        if not value:
            continue
        try:
            proxies.append(
                str(ipaddress.ip_network(value, strict=False) if "/" in value else ipaddress.ip_address(value))
            )
        except ValueError as error:
            raise ConfigError(
                ENV_PREFIX + "TRUSTED_PROXIES",
                f"must be IP addresses or networks separated by commas (such as 127.0.0.1,::1), got {value!r}",
            ) from error
    return tuple(dict.fromkeys(proxies))


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(ENV_PREFIX + name, f"must be true or false, got {raw!r}")

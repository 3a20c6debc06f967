"""Settings come from the environment once, and a wrong value names its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from fediverse.core.config import ConfigError, load_settings


def test_defaults_are_an_embedded_sqlite_instance_on_loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.data_dir == tmp_path / "reverie-data"
    assert settings.database_url == f"sqlite:///{tmp_path / 'reverie-data' / 'reverie.db'}"
    assert settings.generator == "procedural"
    assert settings.authorized_fetch is False
    assert settings.allow_private_addresses is False
    assert settings.draft_retention_hours == 24
    assert (settings.inbox_rate_per_second, settings.inbox_rate_burst) == (100, 1000)
    assert settings.key_fetch_timeout_ms == 5000
    assert settings.trusted_proxies == ("127.0.0.1", "::1")


def test_environment_values_are_used(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "REVERIE_BASE_URL": "https://Ana.Example/",
            "REVERIE_DATA_DIR": str(tmp_path),
            "REVERIE_DATABASE_URL": "postgresql+asyncpg://u:p@127.0.0.1/reverie",
            "REVERIE_AUTHORIZED_FETCH": "true",
            "REVERIE_GENERATOR": "openai",
            "REVERIE_OPENAI_MODEL": "gpt-image-1",
            "REVERIE_DRAFT_RETENTION_HOURS": "72",
            "REVERIE_INBOX_RATE_PER_SECOND": "0",
            "REVERIE_INBOX_RATE_BURST": "50",
            "REVERIE_KEY_FETCH_TIMEOUT_MS": "2500",
        }
    )
    assert settings.base_url == "https://ana.example"
    assert settings.host == "ana.example"
    assert settings.data_dir == tmp_path
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.authorized_fetch is True
    assert settings.generator == "openai"
    assert settings.draft_retention_hours == 72
    assert (settings.inbox_rate_per_second, settings.inbox_rate_burst) == (0, 50)
    assert settings.key_fetch_timeout_ms == 2500
    assert settings.extra == {"REVERIE_OPENAI_MODEL": "gpt-image-1"}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REVERIE_BASE_URL", "ftp://ana.example"),
        ("REVERIE_BASE_URL", "https://ana.example/sub/path"),
        ("REVERIE_BASE_URL", "http://ana.example"),  # plain http only on loopback
        ("REVERIE_BASE_URL", "https://"),
        ("REVERIE_BASE_URL", "https://ana.example:99999"),
        ("REVERIE_DATABASE_URL", "mysql://localhost/reverie"),
        ("REVERIE_DATABASE_URL", "not a url"),
        ("REVERIE_DATABASE_URL", "sqlite://"),
        ("REVERIE_AUTHORIZED_FETCH", "maybe"),
        ("REVERIE_ALLOW_PRIVATE_ADDRESSES", "2"),
        ("REVERIE_REGISTRATIONS", "sometimes"),
        ("REVERIE_DRAFT_RETENTION_HOURS", "0"),
        ("REVERIE_DRAFT_RETENTION_HOURS", "a day"),
        ("REVERIE_DRAFT_RETENTION_HOURS", "-5"),
        ("REVERIE_INBOX_RATE_PER_SECOND", "fast"),
        ("REVERIE_INBOX_RATE_BURST", "0"),
        ("REVERIE_KEY_FETCH_TIMEOUT_MS", "60000"),
        ("REVERIE_TRUSTED_PROXIES", "*"),
        ("REVERIE_TRUSTED_PROXIES", "127.0.0.1,proxy.example"),
        ("REVERIE_TRUSTED_PROXIES", "10.0.0.0/33"),
    ],
)
def test_a_wrong_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({variable: value})
    assert raised.value.variable == variable
    assert variable in str(raised.value)


def test_trusted_proxies_are_addresses_and_networks_in_canonical_form() -> None:
    settings = load_settings({"REVERIE_TRUSTED_PROXIES": " 10.1.2.3/8, ::FFFF:7f00:1 ,0:0:0:0:0:0:0:1,::1, "})
    assert settings.trusted_proxies == ("10.0.0.0/8", "::ffff:7f00:1", "::1")
    # Empty: no proxy is trusted, so the connecting address is always the client's
    assert load_settings({"REVERIE_TRUSTED_PROXIES": ""}).trusted_proxies == ()


def test_loopback_http_origins_are_allowed_for_development() -> None:
    for origin in ("http://127.0.0.1:9000", "http://localhost:8000", "http://[::1]:8000", "http://127.0.0.2"):
        assert load_settings({"REVERIE_BASE_URL": origin}).base_url == origin


def test_toml_file_supplies_values_that_the_environment_overrides(tmp_path: Path) -> None:
    config = tmp_path / "reverie.toml"
    config.write_text('base_url = "https://file.example"\ninstance_name = "Dreams"\nauthorized_fetch = true\n')
    settings = load_settings({"REVERIE_CONFIG_FILE": str(config), "REVERIE_INSTANCE_NAME": "Moods"})
    assert settings.base_url == "https://file.example"
    assert settings.authorized_fetch is True
    assert settings.instance_name == "Moods"


def test_a_broken_config_file_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("base_url = ")
    with pytest.raises(ConfigError) as raised:
        load_settings({"REVERIE_CONFIG_FILE": str(config)})
    assert raised.value.variable == "REVERIE_CONFIG_FILE"
    with pytest.raises(ConfigError):
        load_settings({"REVERIE_CONFIG_FILE": str(tmp_path / "missing.toml")})

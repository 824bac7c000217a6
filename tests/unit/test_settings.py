"""Settings: defaults, environment overrides, and errors that name the variable."""

from __future__ import annotations

import pytest

from shared.errors import ConfigurationError
from shared.settings import load_settings


def test_defaults_match_the_documented_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BROKER_URL", "REDIS_URL", "NETBOX_GET_CACHE_TTL", "STRICT_STARTUP"):
        monkeypatch.delenv(f"PROXBOX_{name}", raising=False)
    settings = load_settings()
    assert settings.broker_url == "amqp://guest:guest@127.0.0.1:5672/"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("proxbox.sqlite3")
    assert settings.netbox_get_cache_ttl == 60
    assert settings.netbox_get_cache_max_entries == 4096
    assert settings.netbox_get_cache_max_bytes == 52_428_800
    assert settings.strict_startup is False


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXBOX_NETBOX_GET_CACHE_TTL", "5")
    monkeypatch.setenv("PROXBOX_STRICT_STARTUP", "true")
    settings = load_settings()
    assert settings.netbox_get_cache_ttl == 5
    assert settings.strict_startup is True


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PROXBOX_NETBOX_GET_CACHE_TTL", "-1"),
        ("PROXBOX_NETBOX_GET_CACHE_MAX_ENTRIES", "lots"),
        ("PROXBOX_NETBOX_GET_CACHE_MAX_BYTES", "0"),
        ("PROXBOX_STRICT_STARTUP", "maybe"),
        ("PROXBOX_BROKER_URL", "redis://127.0.0.1:6379/0"),
        ("PROXBOX_REDIS_URL", "http://127.0.0.1:6379"),
        ("PROXBOX_DATABASE_URL", "mysql://x"),
        ("PROXBOX_GATEWAY_PORT", "70000"),
        ("PROXBOX_ACTOR_TIME_LIMIT_MS", "3600000"),
        ("PROXBOX_TRUSTED_PROXIES", "10.0.0.1,proxy.lan"),
    ],
)
def test_a_wrong_value_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert variable in str(caught.value)
    assert value in str(caught.value)


def test_bare_postgresql_urls_use_the_shipped_driver() -> None:
    settings = load_settings(database_url="postgresql://u@127.0.0.1:5432/db")
    assert settings.sqlalchemy_url == "postgresql+psycopg://u@127.0.0.1:5432/db"


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    from shared.cli import gateway_command

    trusting = gateway_command("0.0.0.0", 8800, load_settings(trusted_proxies=" 10.0.0.0/8, ::1 ").trusted_proxies)
    assert trusting[-3:] == ["--proxy-headers", "--forwarded-allow-ips", "10.0.0.0/8,::1"]
    assert gateway_command("0.0.0.0", 8800, load_settings().trusted_proxies)[-1] == "--no-proxy-headers"

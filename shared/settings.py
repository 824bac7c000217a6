"""One settings object, read once from ``PROXBOX_*`` environment variables.

A wrong value fails at start with :class:`shared.errors.ConfigurationError`,
whose message names the environment variable (not the Python field).
"""

from __future__ import annotations

import functools
import ipaddress
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigurationError

ENV_PREFIX = "PROXBOX_"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("proxbox-mq", appauthor=False))


def default_database_url() -> str:
    return f"sqlite:///{default_data_dir() / 'proxbox.sqlite3'}"


PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]


class Settings(BaseSettings):
    """Every knob of proxbox-mq. Environment variable = ``PROXBOX_`` + field name, upper case."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        extra="ignore",
        frozen=True,
    )

    # --- services -----------------------------------------------------------------
    broker_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str = Field(default_factory=default_database_url)
    #: Prefix of every Redis key we write (tests give each run its own).
    redis_prefix: str = "proxbox"
    #: Prefix of every RabbitMQ queue name (tests give each run its own).
    queue_prefix: str = ""
    strict_startup: bool = False

    # --- the shared NetBox GET cache ---------------------------------------------
    netbox_get_cache_ttl: NonNegativeInt = 60
    netbox_get_cache_max_entries: PositiveInt = 4096
    netbox_get_cache_max_bytes: PositiveInt = 52_428_800
    #: After a Redis failure the cache is bypassed (straight to NetBox) for this long.
    netbox_get_cache_retry_after_s: Annotated[float, Field(gt=0)] = 5.0
    #: At most one "cache fails open" warning per process per this many seconds.
    netbox_get_cache_warn_interval_s: Annotated[float, Field(gt=0)] = 60.0

    # --- gateway --------------------------------------------------------------------
    gateway_host: str = "127.0.0.1"
    gateway_port: Annotated[int, Field(gt=0, lt=65536)] = 8800
    #: Reverse proxies whose ``X-Forwarded-For`` is believed (comma-separated IPs or CIDRs);
    #: empty: the socket's peer is the client (API-key throttling keys on it).
    trusted_proxies: str = ""

    # --- gateway: auth, encryption, limits (issue 7) -------------------------------
    #: Fernet key (urlsafe base64 of 32 bytes) that encrypts endpoint secrets at rest.
    encryption_key: SecretStr | None = None
    #: File holding the Fernet key (first line) and older keys still readable (next lines).
    encryption_key_file: Path | None = None
    #: Older Fernet keys, comma-separated: still decrypt, never encrypt (key rotation).
    encryption_previous_keys: SecretStr | None = None
    #: Server secret mixed into API-key hashes (HMAC-SHA256); overrides the pepper file.
    api_key_pepper: SecretStr | None = None
    #: File holding the pepper; created (mode 0600) on first use. Default: <data dir>/api_key_pepper.
    api_key_pepper_file: Path | None = None
    #: Seconds a verified API key stays trusted in one gateway process before re-checking the DB.
    api_key_cache_ttl_s: Annotated[float, Field(ge=0)] = 5.0
    #: Wrong API keys one client may send per window before it gets 429 + Retry-After.
    auth_max_failures: PositiveInt = 10
    auth_failure_window_s: PositiveInt = 300
    #: Largest request body the gateway reads (bytes); larger requests get 413.
    max_body_bytes: PositiveInt = 1_048_576
    #: Events buffered per streaming client before it counts as slow and is cut off the live feed.
    stream_client_queue: PositiveInt = 1024
    #: Seconds between SSE keep-alive comments (the plugin needs at most 15).
    sse_keepalive_s: Annotated[float, Field(gt=0, le=15)] = 15.0

    # --- events in and schedules (issue 8) -----------------------------------------
    #: Run the schedule loop in this gateway process (every replica runs it; claims dedupe).
    scheduler_enabled: bool = True
    #: Seconds between two looks at the schedules.
    scheduler_tick_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    #: Seconds between two light polls of each endpoint's /cluster/resources; 0 = no polling.
    poll_interval_s: Annotated[int, Field(ge=0, le=86_400)] = 0
    #: Guests per endpoint and poll whose config digest is read (in turn); 0 = no digest check.
    poll_config_budget: Annotated[int, Field(ge=0, le=100_000)] = 100

    # --- workers --------------------------------------------------------------------
    worker_processes: PositiveInt = 2
    worker_threads: PositiveInt = 8
    #: Longest a single actor may run (ms); must stay under RabbitMQ's consumer_timeout (30 min).
    actor_time_limit_ms: Annotated[int, Field(gt=0, le=1_500_000)] = 600_000
    #: Retry back-off ceiling (ms); delayed messages sit unacked in worker memory until due.
    actor_max_backoff_ms: Annotated[int, Field(gt=0, le=900_000)] = 300_000
    actor_max_retries: NonNegativeInt = 5

    # --- sync (issue 4) --------------------------------------------------------------
    #: Concurrent sync steps reading one Proxmox endpoint, across every worker process.
    sync_proxmox_concurrency: PositiveInt = 4
    #: Concurrent sync steps writing to (or paging through) NetBox, across every worker.
    sync_netbox_concurrency: PositiveInt = 4
    #: Guests per ``sync_guests`` message (bounds a worker's memory and one bulk write).
    sync_batch_size: Annotated[int, Field(gt=0, le=1000)] = 100
    #: Objects per NetBox list POST/PATCH request.
    sync_write_chunk: Annotated[int, Field(gt=0, le=1000)] = 200
    #: Objects per NetBox page when reading current state.
    sync_read_page: Annotated[int, Field(gt=0, le=1000)] = 1000
    #: What happens to a NetBox VM whose guest is gone from Proxmox.
    sync_stale_policy: Literal["decommission", "delete"] = "decommission"
    #: Refuse to mark stale more than this share of an endpoint's VMs in one run
    #: (an empty or privilege-filtered listing must not wipe NetBox).
    sync_stale_max_fraction: Annotated[float, Field(gt=0, le=1)] = 0.5
    #: Templates become VMs (status offline, tag ``proxbox-template``); False leaves them out.
    sync_templates: bool = True
    #: Seconds a sync step waits in-process for a limiter slot before re-queuing itself.
    sync_slot_wait_s: Annotated[float, Field(ge=0)] = 10.0
    #: Also write the per-cluster journal entry when a run changed nothing there.
    sync_journal_unchanged: bool = False
    #: Seconds one Proxmox or NetBox request may take.
    sync_http_timeout_s: Annotated[float, Field(gt=0)] = 60.0
    #: Attempts of one Proxmox/NetBox request on transient errors (connection, 429, 5xx, 595/596).
    sync_http_attempts: PositiveInt = 4
    #: Deliveries of one sync message that failed transiently before it counts as failed.
    sync_step_attempts: PositiveInt = 3

    # --- logging --------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = False

    @field_validator("broker_url")
    @classmethod
    def _amqp_scheme(cls, value: str) -> str:
        if not value.startswith(("amqp://", "amqps://")):
            raise ValueError("must be an amqp:// or amqps:// URL")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parts = [part.strip() for part in value.split(",") if part.strip()]
        for part in parts:
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not an IP address or CIDR network") from None
        return ",".join(parts)

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _sqlalchemy_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("redis_prefix")
    @classmethod
    def _prefix_chars(cls, value: str) -> str:
        if not value or any(ch in value for ch in " {}*?[]"):
            raise ValueError("must be non-empty, without spaces, braces or glob characters")
        return value

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with the driver we ship (psycopg 3) for bare postgresql:// URLs."""
        for bare in ("postgresql://", "postgres://"):
            if self.database_url.startswith(bare):
                return "postgresql+psycopg://" + self.database_url[len(bare) :]
        return self.database_url


def load_settings(**overrides: object) -> Settings:
    """Read the environment (plus explicit overrides) into a :class:`Settings`.

    Raises :class:`ConfigurationError` naming each wrong environment variable.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            value = error.get("input")
            shown = "" if isinstance(value, dict) else f" (got {value!r})"
            problems.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}{shown}")
        raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()

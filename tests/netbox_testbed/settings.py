"""Where the NetBox test bed lives and how it is wired, read from the environment.

Every value has a default that works on a developer machine with PostgreSQL and
Redis on loopback; each one can be overridden with a ``PROXBOX_NETBOX_*`` variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Fixed, documented test credentials. They only ever guard a NetBox bound to 127.0.0.1
# whose database is thrown away; they are not secrets.
SUPERUSER_NAME = "admin"
SUPERUSER_PASSWORD = "Proxbox-Testbed-Admin-123"
SUPERUSER_EMAIL = "admin@example.invalid"
TOKEN_V1 = "0123456789abcdef0123456789abcdef01234567"
TOKEN_V2_KEY = "pbxtestbed01"  # exactly 12 alphanumerics (NetBox TOKEN_KEY_LENGTH)
TOKEN_V2_SECRET = "ProxboxTestbedSecret0123456789abcdefghij"  # 40 alphanumerics
SECRET_KEY = "proxbox-mq-testbed-secret-key-not-secret-0123456789-abcdefghijklmnop"
API_TOKEN_PEPPER = "proxbox-mq-testbed-pepper-not-secret-0123456789-abcdefghijklmnopq"

NETBOX_REQUIREMENT = "netbox>=4.7,<4.8"
GUNICORN_REQUIREMENT = "gunicorn"  # netbox pins the exact version itself


class TestbedError(RuntimeError):
    """The test bed cannot be built or started; the message says why and what to do."""


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise TestbedError(f"{name}={raw!r} is not an integer") from exc


def default_home() -> Path:
    """``$PROXBOX_NETBOX_HOME``, else ``${XDG_CACHE_HOME:-~/.cache}/proxbox-mq/netbox``."""
    override = os.environ.get("PROXBOX_NETBOX_HOME", "").strip()
    if override:
        return Path(override).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "proxbox-mq" / "netbox"


@dataclass(frozen=True)
class TestbedSettings:
    """Everything the test bed needs to know; build it with :meth:`from_env`."""

    home: Path
    host: str
    port: int
    workers: int
    pg_host: str
    pg_port: int
    pg_admin_user: str
    role: str
    role_password: str
    template_db: str
    working_db: str
    redis_host: str
    redis_port: int
    redis_tasks_db: int
    redis_cache_db: int
    dump: Path | None
    python: str | None
    start_timeout: float

    @classmethod
    def from_env(cls) -> TestbedSettings:
        dump = os.environ.get("PROXBOX_NETBOX_DUMP", "").strip()
        python = os.environ.get("PROXBOX_NETBOX_PYTHON", "").strip()
        prefix = _env("PROXBOX_NETBOX_DB_PREFIX", "proxbox_nb")
        return cls(
            home=default_home(),
            host="127.0.0.1",
            port=_env_int("PROXBOX_NETBOX_PORT", 8001),
            workers=_env_int("PROXBOX_NETBOX_WORKERS", 2),
            pg_host=_env("PROXBOX_NETBOX_PG_HOST", "127.0.0.1"),
            pg_port=_env_int("PROXBOX_NETBOX_PG_PORT", 5432),
            pg_admin_user=_env("PROXBOX_NETBOX_PG_ADMIN_USER", "postgres"),
            role=prefix,
            role_password=_env("PROXBOX_NETBOX_PG_PASSWORD", "proxbox_nb"),
            template_db=f"{prefix}_template",
            working_db=prefix,
            redis_host=_env("PROXBOX_NETBOX_REDIS_HOST", "127.0.0.1"),
            redis_port=_env_int("PROXBOX_NETBOX_REDIS_PORT", 6379),
            redis_tasks_db=_env_int("PROXBOX_NETBOX_REDIS_TASKS_DB", 14),
            redis_cache_db=_env_int("PROXBOX_NETBOX_REDIS_CACHE_DB", 15),
            dump=Path(dump).expanduser() if dump else None,
            python=python or None,
            start_timeout=float(_env_int("PROXBOX_NETBOX_START_TIMEOUT", 180)),
        )

    # Paths inside home -------------------------------------------------------------
    @property
    def venv(self) -> Path:
        return self.home / "venv"

    @property
    def root(self) -> Path:
        """NETBOX_ROOT: conf/, media/, scripts/ and our logs and pid file."""
        return self.home / "root"

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def config_file(self) -> Path:
        return self.root / "conf" / "configuration.py"

    @property
    def pid_file(self) -> Path:
        return self.home / f"gunicorn-{self.port}.pid"

    @property
    def log_file(self) -> Path:
        return self.home / f"gunicorn-{self.port}.log"

    @property
    def lock_file(self) -> Path:
        return self.home / "testbed.lock"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def token_v1(self) -> str:
        return TOKEN_V1

    @property
    def token_v2(self) -> str:
        return f"nbt_{TOKEN_V2_KEY}.{TOKEN_V2_SECRET}"

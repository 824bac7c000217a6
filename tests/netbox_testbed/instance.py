"""NETBOX_ROOT: scaffold it with ``netbox setup`` and write our configuration.py."""

from __future__ import annotations

import hashlib
import os

from .runner import run
from .settings import API_TOKEN_PEPPER, SECRET_KEY, TestbedSettings

# configuration.py reads this variable so that the bootstrap step can point the same
# configuration at the template database while it is being built.
DB_NAME_ENV = "PROXBOX_NETBOX_DB_NAME"

_CONFIG = '''\
# Written by proxbox-mq tests/netbox_testbed; rewritten on every start. Do not edit.
import os

ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

DATABASES = {{
    "default": {{
        "NAME": os.environ.get("{db_env}", {working_db!r}),
        "USER": {role!r},
        "PASSWORD": {password!r},
        "HOST": {pg_host!r},
        "PORT": {pg_port!r},
        # 0: every request opens its own connection, so reset() can swap the database
        # underneath running gunicorn workers.
        "CONN_MAX_AGE": 0,
    }}
}}

REDIS = {{
    "tasks": {{
        "HOST": {redis_host!r}, "PORT": {redis_port}, "USERNAME": "", "PASSWORD": "",
        "DATABASE": {tasks_db}, "SSL": False,
    }},
    "caching": {{
        "HOST": {redis_host!r}, "PORT": {redis_port}, "USERNAME": "", "PASSWORD": "",
        "DATABASE": {cache_db}, "SSL": False,
    }},
}}

SECRET_KEY = {secret_key!r}
API_TOKEN_PEPPERS = {{1: {pepper!r}}}

DEBUG = False
TIME_ZONE = "UTC"
ISOLATED_DEPLOYMENT = True
CENSUS_REPORTING_ENABLED = False
RELEASE_CHECK_URL = None
PLUGINS = []
PLUGINS_CONFIG = {{}}
'''


# Variables of our own interpreter that must not reach NetBox's.
_SCRUBBED = frozenset(
    {"PYTHONPATH", "PYTHONHOME", "DJANGO_SETTINGS_MODULE", "NETBOX_CONFIGURATION", "VIRTUAL_ENV"}
)


def render_config(settings: TestbedSettings) -> str:
    return _CONFIG.format(
        db_env=DB_NAME_ENV,
        working_db=settings.working_db,
        role=settings.role,
        password=settings.role_password,
        pg_host=settings.pg_host,
        pg_port=str(settings.pg_port),
        redis_host=settings.redis_host,
        redis_port=settings.redis_port,
        tasks_db=settings.redis_tasks_db,
        cache_db=settings.redis_cache_db,
        secret_key=SECRET_KEY,
        pepper=API_TOKEN_PEPPER,
    )


def config_fingerprint(settings: TestbedSettings) -> str:
    """Short hash of everything baked into the template (tokens, pepper, role)."""
    from . import settings as consts

    material = "|".join(
        [
            settings.role,
            consts.SUPERUSER_NAME,
            consts.SUPERUSER_PASSWORD,
            consts.TOKEN_V1,
            consts.TOKEN_V2_KEY,
            consts.TOKEN_V2_SECRET,
            API_TOKEN_PEPPER,
        ]
    )
    return "fp=" + hashlib.sha256(material.encode()).hexdigest()[:16]


def netbox_env(settings: TestbedSettings, db_name: str | None = None) -> dict[str, str]:
    """The whole environment for a ``netbox`` / gunicorn child process."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update({"NETBOX_ROOT": str(settings.root), "PYTHONUNBUFFERED": "1"})
    if db_name is not None:
        env[DB_NAME_ENV] = db_name
    else:
        env[DB_NAME_ENV] = settings.working_db
    env["PATH"] = f"{settings.bin}{os.pathsep}{os.environ.get('PATH', '')}"
    return env


def ensure_instance(settings: TestbedSettings) -> None:
    """Scaffold NETBOX_ROOT once, then (re)write configuration.py from our settings."""
    if not (settings.root / "conf" / "__init__.py").exists():
        settings.root.mkdir(parents=True, exist_ok=True)
        run(
            [settings.bin / "netbox", "setup", "--target", settings.root],
            what="netbox setup",
            env=netbox_env(settings),
        )
    text = render_config(settings)
    if not settings.config_file.exists() or settings.config_file.read_text() != text:
        settings.config_file.write_text(text)

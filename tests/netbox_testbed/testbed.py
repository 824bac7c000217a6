"""The test bed as a whole: ``up``, ``down``, ``reset`` and ``status``."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from . import database, server
from .install import ensure_installed, installed_version
from .instance import ensure_instance
from .runner import log
from .settings import TestbedError, TestbedSettings
from .template import build_template, template_is_ready


@dataclass(frozen=True)
class TestbedInfo:
    """How to reach a running test bed; ``started`` is True when this call started it."""

    url: str
    token_v1: str
    token_v2: str
    started: bool

    def as_json(self) -> dict[str, str]:
        return {"url": self.url, "token_v1": self.token_v1, "token_v2": self.token_v2}


def _info(settings: TestbedSettings, started: bool) -> TestbedInfo:
    return TestbedInfo(settings.url, settings.token_v1, settings.token_v2, started)


@contextmanager
def _locked(settings: TestbedSettings) -> Iterator[None]:
    """Serialise up/down/reset between processes (two pytest sessions, a shell)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    with open(settings.lock_file, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def up(settings: TestbedSettings | None = None) -> TestbedInfo:
    """Start NetBox (install / build the template first when needed) or reuse a healthy one."""
    settings = settings or TestbedSettings.from_env()
    with _locked(settings):
        if server.status_ok(settings):
            log(f"NetBox already running and healthy at {settings.url}")
            return _info(settings, started=False)
        server.stop(settings)  # a gunicorn of ours that does not answer (e.g. DB dropped)
        if server.port_in_use(settings):
            raise TestbedError(
                f"port {settings.port} on {settings.host} is taken by something that is not a "
                "healthy test-bed NetBox (wrong tokens?). Stop it or choose another port with "
                "PROXBOX_NETBOX_PORT."
            )
        started = time.monotonic()
        version = ensure_installed(settings)
        ensure_instance(settings)
        database.ensure_role(settings)
        build_template(settings, version)
        clone = database.clone_working(settings)
        log(f"working database {settings.working_db} cloned from template in {clone:.2f}s")
        _flush_cache(settings)
        pid = server.start(settings)
        ready = server.wait_healthy(settings, pid)
        log(
            f"NetBox {version} ready at {settings.url} (gunicorn pid {pid}): "
            f"gunicorn {ready:.1f}s, whole start {time.monotonic() - started:.1f}s"
        )
        return _info(settings, started=True)


def down(settings: TestbedSettings | None = None) -> bool:
    """Stop the gunicorn named by our pid file; the databases and the venv stay for a warm start."""
    settings = settings or TestbedSettings.from_env()
    with _locked(settings):
        return server.stop(settings)


def _flush_cache(settings: TestbedSettings) -> None:
    """Empty NetBox's own Redis caching DB only (never FLUSHALL, never other DB numbers)."""
    client = redis.Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        db=settings.redis_cache_db,
        socket_timeout=10,
    )
    try:
        client.flushdb()
    except redis.RedisError as exc:
        raise TestbedError(
            f"cannot flush Redis DB {settings.redis_cache_db} at "
            f"{settings.redis_host}:{settings.redis_port}: {exc}"
        ) from exc
    finally:
        client.close()


def reset(settings: TestbedSettings | None = None, *, verify: bool = True) -> float:
    """Make the working database a fresh copy of the template while gunicorn keeps running.

    Returns the seconds taken (database swap, cache flush and, with ``verify``, the first
    successful ``/api/status/`` after it).
    """
    settings = settings or TestbedSettings.from_env()
    started = time.monotonic()
    with _locked(settings):
        database.clone_working(settings)
        _flush_cache(settings)
    if verify:
        deadline = time.monotonic() + 30
        while not server.status_ok(settings):
            if time.monotonic() > deadline:
                raise TestbedError(f"NetBox at {settings.url} did not answer after reset()")
            time.sleep(0.2)
    return time.monotonic() - started


def status(settings: TestbedSettings | None = None) -> dict[str, object]:
    """What exists and what runs, for the ``status`` command."""
    settings = settings or TestbedSettings.from_env()
    version = installed_version(settings)
    return {
        "url": settings.url,
        "home": str(settings.home),
        "installed": version,
        "template_ready": bool(version) and template_is_ready(settings, version or ""),
        "gunicorn_pid": server.read_pid(settings),
        "healthy": server.status_ok(settings),
    }

"""gunicorn serving NetBox on loopback: start, health check, stop (via our pid file)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from .instance import netbox_env
from .runner import log
from .settings import TestbedError, TestbedSettings


def status_ok(settings: TestbedSettings, timeout: float = 5.0) -> bool:
    """True when ``/api/status/`` answers 200 with NetBox's JSON to our v2 token."""
    try:
        response = httpx.get(
            f"{settings.url}/api/status/",
            headers={"Authorization": f"Bearer {settings.token_v2}", "Accept": "application/json"},
            timeout=timeout,
        )
    except httpx.HTTPError:
        return False
    if response.status_code != 200:
        return False
    try:
        return "netbox-version" in response.json()
    except ValueError:
        return False


def port_in_use(settings: TestbedSettings) -> bool:
    try:
        httpx.get(f"{settings.url}/", timeout=2.0)
    except httpx.ConnectError:
        return False
    except httpx.HTTPError:
        return True
    return True


def read_pid(settings: TestbedSettings) -> int | None:
    """Our gunicorn master's pid, if the pid file names a live gunicorn process."""
    try:
        pid = int(settings.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if not _alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid  # no /proc (not Linux): trust the live pid
    return pid if b"gunicorn" in cmdline else None


def log_tail(settings: TestbedSettings, lines: int = 30) -> str:
    try:
        return "\n".join(settings.log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no gunicorn log)"


def start(settings: TestbedSettings) -> int:
    """Start gunicorn as a daemon (not our child, so it outlives the caller); return its pid."""
    settings.log_file.parent.mkdir(parents=True, exist_ok=True)
    settings.pid_file.unlink(missing_ok=True)
    argv = [
        str(settings.bin / "gunicorn"),
        "--daemon",
        "--bind", f"{settings.host}:{settings.port}",
        "--workers", str(settings.workers),
        "--threads", "3",
        "--timeout", "300",
        "--graceful-timeout", "5",
        "--pid", str(settings.pid_file),
        "--error-logfile", str(settings.log_file),
        "--capture-output",
        "netbox.wsgi",
    ]
    log(f"starting gunicorn on {settings.url} ({settings.workers} workers), log {settings.log_file}")
    launched = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=netbox_env(settings),
        cwd=str(settings.root),
        timeout=60,
        check=False,
    )
    if launched.returncode != 0:
        raise TestbedError(
            f"gunicorn failed to launch (exit {launched.returncode}):\n"
            f"{launched.stdout}{launched.stderr}\n{log_tail(settings)}"
        )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        pid = read_pid(settings)
        if pid is not None:
            return pid
        time.sleep(0.1)
    raise TestbedError(
        f"gunicorn wrote no pid file {settings.pid_file}; last lines of {settings.log_file}:\n"
        + log_tail(settings)
    )


def wait_healthy(settings: TestbedSettings, pid: int) -> float:
    """Poll ``/api/status/`` until 200; raise with gunicorn's log tail on death or timeout."""
    started = time.monotonic()
    deadline = started + settings.start_timeout
    while time.monotonic() < deadline:
        if status_ok(settings, timeout=3.0):
            return time.monotonic() - started
        if not _alive(pid):
            raise TestbedError(
                f"gunicorn exited before NetBox answered; last lines of {settings.log_file}:\n"
                + log_tail(settings)
            )
        time.sleep(0.5)
    raise TestbedError(
        f"NetBox did not answer 200 on {settings.url}/api/status/ within "
        f"{settings.start_timeout:.0f}s (PROXBOX_NETBOX_START_TIMEOUT); last lines of "
        f"{settings.log_file}:\n" + log_tail(settings)
    )


def _alive(pid: int) -> bool:
    """True for a running process; a zombie (no reaper in some containers) counts as dead."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def stop(settings: TestbedSettings, timeout: float = 20.0) -> bool:
    """Stop the gunicorn named by our pid file; True if one was running."""
    pid = read_pid(settings)
    if pid is None:
        settings.pid_file.unlink(missing_ok=True)
        return False
    log(f"stopping gunicorn (pid {pid})")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            break
        time.sleep(0.2)
    else:
        log(f"gunicorn {pid} ignored SIGTERM for {timeout:.0f}s; killing its process group")
        os.killpg(pid, signal.SIGKILL)
    settings.pid_file.unlink(missing_ok=True)
    return True

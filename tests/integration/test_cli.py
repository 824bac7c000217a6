"""The ``proxbox-mq`` command as a newcomer runs it."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
from sqlalchemy import inspect

from shared.db.engine import build_engine
from shared.settings import Settings, load_settings
from tests.conftest import settings_env


def proxbox_mq(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_migrate_brings_an_empty_database_to_head(settings: Settings) -> None:
    result = proxbox_mq("migrate", env=settings_env(settings))
    assert result.returncode == 0, result.stderr
    engine = build_engine(settings)
    try:
        assert "proxmox_endpoint" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_wrong_setting_stops_the_command_with_the_variable_name(settings: Settings) -> None:
    env = settings_env(settings) | {"PROXBOX_NETBOX_GET_CACHE_MAX_BYTES": "-5"}
    result = proxbox_mq("migrate", env=env)
    assert result.returncode == 2
    assert "PROXBOX_NETBOX_GET_CACHE_MAX_BYTES" in result.stderr
    assert "Traceback" not in result.stderr


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_run_serves_the_gateway_and_stops_everything_on_ctrl_c(settings: Settings) -> None:
    # Given `proxbox-mq run` on a free port
    port = free_port()
    isolated = load_settings(**{**settings.model_dump(), "gateway_port": port})
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "run", "--processes", "1", "--threads", "1"],
        env=settings_env(isolated), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # When it has started
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        # Then the gateway answers ready (migrated database, Redis, RabbitMQ)
        assert health is not None, "gateway never answered"
        assert health.json() == {"status": "ready", "init_ok": True}
    finally:
        # And Ctrl-C stops the gateway and the workers, with a clean exit
        process.send_signal(2)
        try:
            _, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            pytest.fail("proxbox-mq run did not stop within 30 s of Ctrl-C")
    returncode = process.returncode
    assert returncode == 0, stderr[-2000:]
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)

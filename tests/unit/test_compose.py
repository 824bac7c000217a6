"""docker-compose.yml runs every part, and the worker service scales."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_every_part_is_a_service(compose: dict[str, Any]) -> None:
    assert {"rabbitmq", "redis", "migrate", "gateway", "worker"} <= set(compose["services"])


def test_the_worker_can_be_scaled(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    # A fixed container name or a published port would make `--scale worker=4` fail.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["command"][0] == "worker"


def test_gateway_and_worker_wait_for_the_migration(compose: dict[str, Any]) -> None:
    for name in ("gateway", "worker"):
        depends = compose["services"][name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_every_role_gets_the_service_urls(compose: dict[str, Any]) -> None:
    for name in ("migrate", "gateway", "worker"):
        env = compose["services"][name]["environment"]
        assert env["PROXBOX_BROKER_URL"].startswith("amqp://")
        assert env["PROXBOX_REDIS_URL"].startswith("redis://")


def test_the_image_runs_the_proxbox_mq_command() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["proxbox-mq"]' in dockerfile


def docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(
    not docker_compose_available(), reason="the docker client has no compose plugin here"
)
def test_docker_compose_accepts_the_file() -> None:
    result = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr

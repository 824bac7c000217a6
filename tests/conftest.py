"""Fixtures shared by every suite.

Each test run gets its own Redis key prefix, RabbitMQ queue prefix and
database, and deletes them afterwards: the servers are shared with other runs
(never FLUSHALL). A missing server fails the run loudly; nothing skips.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pika
import pytest
import redis
from pydantic import SecretStr

from shared.keys import Keys
from shared.messages import ALL_MESSAGES
from shared.redis_client import sync_client
from shared.settings import Settings, load_settings

pytest_plugins = ["tests.pvesim.pytest_plugin", "tests.netbox_testbed.pytest_plugin"]

REDIS_URL = os.environ.get("PROXBOX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BROKER_URL = os.environ.get("PROXBOX_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
POSTGRES_ADMIN_URL = os.environ.get(
    "PROXBOX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Fail the whole run at once, with what to do, when a service is missing."""
    problems = []
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        problems.append(f"Redis at {REDIS_URL}: {exc}")
    try:
        pika.BlockingConnection(pika.URLParameters(BROKER_URL)).close()
    except Exception as exc:  # pika raises many unrelated classes
        problems.append(f"RabbitMQ at {BROKER_URL}: {exc!r}")
    if problems:
        raise pytest.UsageError(
            "services the tests need are down (run .ci/run, or start them):\n  "
            + "\n  ".join(problems)
        )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def test_id() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture
def settings(tmp_path: Path, test_id: str) -> Iterator[Settings]:
    """Settings isolated for one test: own SQLite file, Redis prefix and queue prefix."""
    isolated = load_settings(
        broker_url=BROKER_URL,
        redis_url=REDIS_URL,
        database_url=f"sqlite:///{tmp_path / 'proxbox.sqlite3'}",
        redis_prefix=f"pbxtest-{test_id}",
        queue_prefix=f"pbxtest-{test_id}.",
    )
    yield isolated
    delete_redis_keys(isolated)
    delete_queues(isolated)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a child process (worker, gateway) needs to see ``settings``."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is None:  # unset optional setting: leave it unset in the child too
            continue
        if isinstance(value, SecretStr):  # model_dump keeps secrets masked; the child needs them
            value = value.get_secret_value()
        env[f"PROXBOX_{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    return env


def delete_redis_keys(settings: Settings) -> None:
    client = sync_client(settings)
    try:
        keys = list(client.scan_iter(Keys(settings.redis_prefix).all_keys_pattern(), count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


def delete_queues(settings: Settings) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(settings.broker_url))
    try:
        channel = connection.channel()
        for spec in ALL_MESSAGES:
            base = spec.queue_name(settings)
            for name in (base, f"{base}.DQ", f"{base}.XQ"):
                channel.queue_delete(name)
    finally:
        connection.close()


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    client = sync_client(settings)
    yield client
    client.close()


@contextlib.asynccontextmanager
async def gateway_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app in-process, lifespan included, behind an httpx client."""
    from gateway.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


# --- the gateway (issue 7) -------------------------------------------------------------------


@pytest.fixture
def gateway_settings(settings: Settings, tmp_path: Path) -> Settings:
    """``settings`` plus an encryption key and an API-key pepper, with the database migrated."""
    from cryptography.fernet import Fernet

    from shared.db.migrate import upgrade

    configured = load_settings(
        **{
            **settings.model_dump(),
            "encryption_key": Fernet.generate_key().decode(),
            "api_key_pepper_file": tmp_path / "api_key_pepper",
        }
    )
    upgrade(configured)
    return configured

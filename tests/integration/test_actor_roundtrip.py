"""A message sent by this process is processed by a ``proxbox-mq worker`` process."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import redis

from shared.broker import build_broker
from shared.keys import Keys
from shared.messages import PING, Ping, send
from shared.settings import Settings
from tests.conftest import settings_env

#: A cold worker boots in 1–3 s here; allow for a loaded CI machine.
WORKER_ANSWER_TIMEOUT_S = 60


@pytest.fixture
def worker_process(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "worker", "--processes", "1", "--threads", "2"],
        env=settings_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    assert process.stderr is not None
    process.stderr.close()


def wait_for_key(client: redis.Redis, key: str, timeout: float) -> bytes | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = client.get(key)
        if value is not None:
            return value  # type: ignore[no-any-return]
        time.sleep(0.1)
    return None


def test_a_ping_sent_here_is_processed_by_a_worker_process(
    settings: Settings, redis_client: redis.Redis, worker_process: subprocess.Popen[bytes]
) -> None:
    # Given a worker process on this run's queues, and a broker in this process
    broker = build_broker(settings, confirm_delivery=True)
    try:
        # When a ping is enqueued by name
        send(broker, PING, Ping(token="roundtrip", value="pong-42"), settings)
    finally:
        broker.close()

    # Then the worker writes the answer into Redis
    answer = wait_for_key(
        redis_client, Keys(settings.redis_prefix).probe("roundtrip"), WORKER_ANSWER_TIMEOUT_S
    )
    if answer is None and worker_process.poll() is not None:
        assert worker_process.stderr is not None
        pytest.fail(f"worker exited early: {worker_process.stderr.read().decode()[-2000:]}")
    assert answer == b"pong-42"

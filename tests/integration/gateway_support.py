"""Helpers of the gateway suites: an authenticated client, a live uvicorn server (in this
process or as a ``proxbox-mq gateway`` process), fake runs."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import IO

import httpx
import uvicorn

from shared.events import Complete, Event, Item, ItemProgress, Publisher, Step
from shared.keys import Keys
from shared.redis_client import sync_client
from shared.settings import Settings
from tests.conftest import settings_env
from tests.integration.test_cli import free_port

FIRST_KEY = "k" * 8 + uuid.uuid4().hex + uuid.uuid4().hex  # 72 characters, like the plugin's 64+


async def bootstrap(client: httpx.AsyncClient, key: str = FIRST_KEY) -> str:
    """Register the first key and make ``client`` send it on every request."""
    response = await client.post("/auth/register-key", json={"api_key": key, "label": "test"})
    assert response.status_code == 201, response.text
    client.headers["X-Proxbox-API-Key"] = key
    return key


def spawn_gateway(settings: Settings, log: IO[bytes] | int = subprocess.DEVNULL) -> tuple[subprocess.Popen[bytes], str]:
    """A ``proxbox-mq gateway`` process on a free port, and its URL (not yet waited for)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "shared.cli", "gateway", "--port", str(port)],
                               env=settings_env(settings), stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    return process, f"http://127.0.0.1:{port}"


def wait_serving(url: str, timeout: float = 60) -> None:
    """Return once ``url`` answers ``/version``; RuntimeError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/version", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the gateway at {url} did not start within {timeout} s")


@contextlib.asynccontextmanager
async def live_gateway(settings: Settings) -> AsyncIterator[str]:
    """The gateway under a real uvicorn server on a free port (streams need a real socket)."""
    from gateway.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="on", ws="websockets-sansio")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.02)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 15)
        finally:
            sock.close()  # even when the server failed: a leaked socket fails a later test


class FakeRun:
    """Publishes a run's events as a worker would (shared.events.Publisher)."""

    def __init__(self, settings: Settings, run_id: str | None = None) -> None:
        self.run_id = run_id or uuid.uuid4().hex
        self._client = sync_client(settings)
        self._publisher = Publisher(self._client, Keys(settings.redis_prefix))
        self.ids: list[str] = []

    def publish(self, event: Event) -> str:
        entry_id = self._publisher.publish(event)
        self.ids.append(entry_id)
        return entry_id

    def step(self, n: int) -> str:
        return self.publish(Step(run_id=self.run_id, step=f"step-{n}", status="progress", message=f"m{n}"))

    def item(self, name: str, item_type: str = "virtual_machine") -> str:
        return self.publish(ItemProgress(
            run_id=self.run_id, phase="virtual-machines", operation="created",
            item=Item(name=name, item_type=item_type),
        ))  # fmt: skip

    def complete(self, ok: bool = True) -> str:
        return self.publish(Complete(
            run_id=self.run_id, ok=ok, status="succeeded" if ok else "failed",
            message="done", result={"count": 1},
            errors=[] if ok else [{"detail": "boom"}],
        ))  # fmt: skip

    def close(self) -> None:
        self._client.close()


def parse_sse(text: str) -> list[dict[str, str]]:
    """Frames of an SSE body: each a dict of its field lines (comments under ':')."""
    frames = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        frame: dict[str, str] = {}
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            frame[field] = (frame.get(field, "") + "\n" if field in frame else "") + value.lstrip(" ")
        frames.append(frame)
    return frames

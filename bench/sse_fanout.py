"""SSE fan-out: N concurrent clients on ONE gateway process under uvicorn.

Starts the gateway (uvicorn, one process) on a free port with a throw-away
database and Redis prefix, connects ``--clients`` raw-socket SSE readers to one
run's ``/runs/{id}/events``, publishes ``--rate`` events/s for ``--seconds`` the
way workers do (``shared.events.Publisher``), and reports publish-to-client
latency (p50/p99, from each event's ``ts``), delivered events/s and the
gateway's resident memory with every client connected.

Run: ``.venv/bin/python -m bench.sse_fanout --clients 500 --rate 10 --seconds 15``
(needs Redis and RabbitMQ as for the tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from shared.db.migrate import upgrade
from shared.events import Complete, Publisher, Step
from shared.keys import Keys
from shared.redis_client import sync_client
from shared.settings import load_settings

KEY = "bench-" + uuid.uuid4().hex + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def sse_reader(port: int, run_id: str, latencies: list[float], counts: list[int],
                     connected: asyncio.Event, index: int, total: int) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(f"GET /runs/{run_id}/events HTTP/1.1\r\nHost: bench\r\n"
                 f"X-Proxbox-API-Key: {KEY}\r\nAccept: text/event-stream\r\n\r\n".encode())  # fmt: skip
    await writer.drain()
    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
        pass  # response headers
    counts[index] = 0
    if sum(1 for c in counts if c >= 0) == total:
        connected.set()
    while True:
        line = await reader.readline()
        if not line:
            break
        if line.startswith(b"data:"):
            event = json.loads(line[5:])
            if event.get("event") == "step" and event.get("step") == "bench":
                latencies.append(time.time() - event["ts"])
                counts[index] += 1
            elif event.get("event") == "complete":
                break
    writer.close()


def publish(settings_prefix: str, redis_url: str, run_id: str, rate: float, seconds: float) -> int:
    settings = load_settings(redis_prefix=settings_prefix, redis_url=redis_url)
    client = sync_client(settings)
    publisher = Publisher(client, Keys(settings.redis_prefix))
    sent = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        publisher.publish(Step(run_id=run_id, step="bench", status="progress", message=f"{sent}"))
        sent += 1
        next_at = start + sent / rate
        time.sleep(max(0.0, next_at - time.perf_counter()))
    time.sleep(0.5)
    publisher.publish(Complete(run_id=run_id, ok=True, status="succeeded", message="bench done"))
    client.close()
    return sent


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp())
    prefix = f"bench-sse-{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        database_url=f"sqlite:///{workdir / 'gw.sqlite3'}", redis_prefix=prefix,
        queue_prefix=f"{prefix}.", encryption_key=Fernet.generate_key().decode(),
        api_key_pepper_file=workdir / "pepper", stream_client_queue=args.queue,
        log_level="WARNING",
    )  # fmt: skip
    upgrade(settings)
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is not None:
            secret = getattr(value, "get_secret_value", None)
            env[f"PROXBOX_{name.upper()}"] = str(secret() if secret else value)
    port = free_port()
    gateway = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "gateway.app:main_app", "--factory", "--port", str(port),
         "--log-level", "warning", "--no-access-log", "--backlog", "4096"], env=env,
    )  # fmt: skip
    run_id = uuid.uuid4().hex
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):
                try:
                    if (await client.get("/")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            await client.post("/auth/register-key", json={"api_key": KEY, "label": "bench"})
            setup = load_settings(redis_prefix=prefix, redis_url=settings.redis_url)
            first = sync_client(setup)
            Publisher(first, Keys(prefix)).publish(Step(run_id=run_id, step="open", status="started"))
            first.close()
            rss_idle = rss_mb(gateway.pid)
            latencies: list[float] = []
            counts = [-1] * args.clients
            connected = asyncio.Event()
            readers = [asyncio.create_task(sse_reader(port, run_id, latencies, counts, connected, n,
                                                      args.clients)) for n in range(args.clients)]  # fmt: skip
            await asyncio.wait_for(connected.wait(), 120)
            await asyncio.sleep(1.0)  # let the last subscriptions register
            rss_connected = rss_mb(gateway.pid)
            began = time.perf_counter()
            sent = await asyncio.to_thread(publish, prefix, settings.redis_url, run_id, args.rate, args.seconds)
            await asyncio.wait_for(asyncio.gather(*readers), 120)
            elapsed = time.perf_counter() - began
            rss_after = rss_mb(gateway.pid)
    finally:
        gateway.terminate()
        gateway.wait(20)
        cleanup = sync_client(settings)
        keys = list(cleanup.scan_iter(f"{prefix}:*"))
        if keys:
            cleanup.delete(*keys)
        cleanup.close()
    latencies.sort()
    delivered = len(latencies)
    print(f"clients={args.clients} rate={args.rate}/s seconds={args.seconds} events sent={sent}")
    print(f"delivered {delivered}/{sent * args.clients} ({delivered / (sent * args.clients):.1%}), "
          f"{delivered / elapsed:,.0f} events/s to clients")  # fmt: skip
    print(f"latency p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"p99 {latencies[int(delivered * 0.99) - 1] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms")  # fmt: skip
    print(f"gateway RSS: idle {rss_idle:.0f} MB, {args.clients} clients connected {rss_connected:.0f} MB, "
          f"after the run {rss_after:.0f} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--rate", type=float, default=10.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--queue", type=int, default=1024, help="PROXBOX_STREAM_CLIENT_QUEUE")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

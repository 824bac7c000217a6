"""How fast one gateway process answers signed hook events (``POST /events/proxmox``).

    python -m bench.hook_intake --events 1000 --senders 10

Starts a `proxbox-mq gateway` process on local services (its own SQLite, Redis
prefix and queue names, removed afterwards), registers one endpoint with a hook
secret, then sends a storm of signed events for 5 guests from ``--senders``
threads, each a keep-alive connection (as a few nodes' hookscripts would). Prints
events per second and per-event latency. Baseline in the same run: ``GET
/version``, the cheapest route, over the same connections: what the HTTP stack
alone costs. No worker runs: the few syncs the storm queues wait in RabbitMQ.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from bench.hook_latency import percentile, start_gateway
from shared.db.migrate import upgrade
from shared.hooks import sign
from shared.settings import Settings, load_settings
from tests.conftest import delete_queues, delete_redis_keys
from tests.integration.gateway_support import FIRST_KEY


def storm(url: str, senders: int, events: int, request: Callable[[httpx.Client, int], int]) -> dict[str, object]:
    """Send ``events`` requests from ``senders`` threads; wall time, rate and latency."""

    def sender(first: int) -> list[tuple[int, float]]:
        with httpx.Client(base_url=url, timeout=30) as client:
            out = []
            for i in range(first, events, senders):
                started = time.perf_counter()
                out.append((request(client, i), time.perf_counter() - started))
            return out

    started = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        results = [r for part in pool.map(sender, range(senders)) for r in part]
    wall = time.perf_counter() - started
    statuses = {status for status, _ in results}
    latencies = [seconds for _, seconds in results]
    return {"wall_s": round(wall, 3), "per_s": round(events / wall), "statuses": sorted(statuses),
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        tag = f"pbxbench-intake-{os.getpid()}"
        settings: Settings = load_settings(
            database_url=f"sqlite:///{tmp / 'proxbox.sqlite3'}", redis_prefix=tag,
            queue_prefix=f"{tag}.", encryption_key=Fernet.generate_key().decode(),
            api_key_pepper_file=tmp / "pepper", scheduler_enabled=False, log_level="WARNING",
        )  # fmt: skip
        upgrade(settings)
        gateway, url = start_gateway(settings, tmp)
        try:
            admin = httpx.Client(base_url=url, timeout=30)
            admin.post("/auth/register-key", json={"api_key": FIRST_KEY, "label": "bench"})
            admin.headers["X-Proxbox-API-Key"] = FIRST_KEY
            endpoint = admin.post("/proxmox/endpoints", json={
                "name": "bench", "ip_address": "127.0.0.1", "port": 9, "username": "root@pam",
                "password": "unused", "verify_ssl": False}).json()  # fmt: skip
            secret = admin.post(f"/proxmox/endpoints/{endpoint['id']}/hook-secret").json()["hook_secret"]

            def event(client: httpx.Client, i: int) -> int:
                body = json.dumps({"endpoint": "bench", "node": "n1", "vmid": 100 + i % 5,
                                   "phase": ["post-start", "post-stop"][i % 2], "seq": i}).encode()  # fmt: skip
                now = int(time.time())
                headers = {"X-Proxbox-Timestamp": str(now), "X-Proxbox-Signature": sign(secret, now, body),
                           "Content-Type": "application/json"}  # fmt: skip
                return client.post("/events/proxmox", content=body, headers=headers).status_code

            baseline = storm(url, args.senders, args.events, lambda c, _: c.get("/version").status_code)
            events = storm(url, args.senders, args.events, event)
            queued = admin.get("/runs", params={"limit": 1}).json()["total"]
        finally:
            gateway.terminate()
            gateway.wait(timeout=20)
            delete_redis_keys(settings)
            delete_queues(settings)
    print(json.dumps({
        "command": f"python -m bench.hook_intake --events {args.events} --senders {args.senders}",
        "cores": os.cpu_count(), "baseline_get_version": baseline, "signed_events": events,
        "guest_syncs_queued": queued,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()

"""Benchmark of the shared NetBox GET cache against a plain Redis, in the same run.

    .venv/bin/python -m bench.nbcache [--ops 5000] [--guests 1000] [--workers 4]

Part 1, operations per second on one connection, sequential, 2 KiB values: raw
GET/SET, then the cache's hit, miss+fill, fill that evicts, and invalidation; plus
one invalidation of a list with 4096 query variants (the largest the default
entry limit allows) and the session's hit path (a full ``requests.Response``).

Part 2, NetBox GETs of a modeled full sync of a 1,000-guest estate with the cache
off and on. The sync engine does not exist yet, so each guest runs the read/write
pattern of proxbox-api's VM stage (reference §2.3/§2.4) against a local HTTP
server that counts requests: 5 dependency lookups (site, cluster, node device, VM
role, tag), the VM lookup, a PATCH of the VM, its interfaces and its disks. Guests
are processed by ``--workers`` threads, each with its own session, as independent
messages would be on separate workers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import requests

from shared.keys import Keys
from shared.netbox.cache import NetBoxGetCache
from shared.netbox.cache_keys import endpoint_id, entry_key
from shared.netbox.session import CachingSession
from shared.redis_client import sync_client
from shared.settings import Settings, load_settings

NETBOX = "https://netbox.bench.example"
VALUE = b"v" * 2048
TOKEN = "Token " + "b" * 40


def rate(label: str, ops: int, run: Callable[[int], object]) -> tuple[str, float]:
    """Best of three rounds (this box is shared and noisy); rounds use disjoint ``i``."""
    best = 0.0
    for round_ in range(3):
        started = time.perf_counter()
        for i in range(round_ * ops, (round_ + 1) * ops):
            run(i)
        best = max(best, ops / (time.perf_counter() - started))
    return label, best


def micro(settings: Settings, ops: int) -> list[tuple[str, float]]:
    raw = sync_client(settings)
    probe = Keys(settings.redis_prefix).probe("bench")
    raw.set(probe, VALUE)
    for _ in range(1000):  # warm up connections, script cache and the CPU
        raw.get(probe)
    cache = NetBoxGetCache(sync_client(settings), settings)
    ep = endpoint_id(NETBOX)

    def key(path: str) -> Any:
        return entry_key(ep, NETBOX + path, {"Authorization": TOKEN})

    hot = key("/api/dcim/devices/1/")
    cache.store(hot, VALUE, cache.lookup(hot))
    rows = [
        rate("raw Redis GET", ops, lambda i: raw.get(probe)),
        rate("raw Redis SET", ops, lambda i: raw.set(probe, VALUE)),
        rate("cache hit (lookup script)", ops, lambda i: cache.lookup(hot)),
    ]

    def miss_fill(i: int) -> None:
        entry = key(f"/api/dcim/interfaces/{i}/")
        cache.store(entry, VALUE, cache.lookup(entry))

    rows.append(rate("cache miss + fill (2 scripts)", ops, miss_fill))
    small = load_settings(**{**settings.model_dump(), "netbox_get_cache_max_entries": 1000})
    evicting = NetBoxGetCache(sync_client(small), small)
    lease = evicting.lookup(key("/api/x/"))
    rows.append(
        rate(
            "fill that evicts (entry limit 1000)",
            ops,
            lambda i: evicting.store(key(f"/api/ipam/ip-addresses/{i}/"), VALUE, lease),
        )
    )
    rows.append(
        rate(
            "invalidation, 1 path of 1 entry",
            ops,
            lambda i: cache.invalidate(ep, [f"/api/dcim/interfaces/{i}/"]),
        )
    )
    for i in range(4096):
        cache.store(key(f"/api/virtualization/interfaces/?q={i}"), b"x" * 64, lease)
    started = time.perf_counter()
    dropped = cache.invalidate(ep, ["/api/virtualization/interfaces/"])
    took = time.perf_counter() - started
    rows.append((f"invalidation of a list with {dropped} variants (ms, not ops/s)", took * 1000))

    with CountingNetBox() as server:
        session = CachingSession(cache, server.url)
        session.headers["Authorization"] = TOKEN
        url = server.url + "/api/dcim/sites/1/"
        session.get(url)
        rows.append(rate("session GET served from cache", ops, lambda i: session.get(url)))
    for client in (raw, cache.client, evicting.client):
        client.close()
    return rows


class CountingNetBox:
    """Answers every request with a small JSON document after ``latency_s``; counts GETs."""

    def __init__(self, latency_s: float = 0.0) -> None:
        self.gets = 0
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as NetBox behind a proxy would
            disable_nagle_algorithm = True  # headers and body are two writes

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                time.sleep(latency_s)
                if self.command == "GET":
                    with owner.lock:
                        owner.gets += 1
                path = urlsplit(self.path).path
                body = json.dumps({"id": 1, "url": self.path, "path": path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PATCH = do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> CountingNetBox:
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def sync_guest(session: requests.Session, base: str, guest: int) -> None:
    """The modeled per-guest pattern: shared dependencies, then the guest's own objects."""
    cluster, node, vm_id = guest % 10, guest % 50, 1000 + guest
    api = base + "/api"
    for path in (
        f"/dcim/sites/?slug=proxmox-default-site-c{cluster}",
        f"/virtualization/clusters/?name=c{cluster}",
        f"/dcim/devices/?name=node{node}&site_id={cluster}",
        "/dcim/device-roles/?slug=virtual-machine-qemu",
        "/extras/tags/?slug=proxbox",
        f"/virtualization/virtual-machines/?cf_proxmox_vm_id={guest}&cluster_id={cluster}",
    ):
        session.get(api + path).raise_for_status()
    session.patch(f"{api}/virtualization/virtual-machines/{vm_id}/", json={"vcpus": 2})
    session.get(f"{api}/virtualization/interfaces/?virtual_machine_id={vm_id}")
    session.get(f"{api}/virtualization/virtual-disks/?virtual_machine_id={vm_id}")


def estate(
    settings: Settings, guests: int, workers: int, latency_s: float, cached: bool
) -> tuple[int, float]:
    cache = NetBoxGetCache(sync_client(settings), settings)
    local = threading.local()
    with CountingNetBox(latency_s) as server:

        def one(guest: int) -> None:
            if not hasattr(local, "session"):
                local.session = CachingSession(cache, server.url) if cached else requests.Session()
                local.session.headers["Authorization"] = TOKEN
            sync_guest(local.session, server.url, guest)

        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, range(guests)))
        took = time.perf_counter() - started
        gets = server.gets
    cache.clear()
    cache.close()
    return gets, took


def cleanup(settings: Settings) -> None:
    client = sync_client(settings)
    found = list(client.scan_iter(Keys(settings.redis_prefix).all_keys_pattern(), count=1000))
    for start in range(0, len(found), 500):
        client.delete(*found[start : start + 500])
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=5000)
    parser.add_argument("--guests", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--netbox-latency-ms", type=float, default=5.0)
    args = parser.parse_args()
    settings = load_settings(redis_prefix=f"bench-{uuid.uuid4().hex[:8]}")
    redis_version = sync_client(settings).info("server")["redis_version"]
    try:
        rows = micro(settings, args.ops)
        latency = args.netbox_latency_ms / 1000
        off = estate(settings, args.guests, args.workers, latency, cached=False)
        on = estate(settings, args.guests, args.workers, latency, cached=True)
    finally:
        cleanup(settings)
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; cores: {os.cpu_count()}; "
        f"Redis {redis_version} at {settings.redis_url}; Python {sys.version.split()[0]}"
    )
    print("command: .venv/bin/python -m bench.nbcache " + " ".join(sys.argv[1:]))
    print(f"\n| operation ({args.ops} each, one connection, 2 KiB) | ops/s |\n|---|---:|")
    for label, value in rows:
        print(f"| {label} | {value:,.0f} |" if "ms" not in label else f"| {label} | {value:.1f} |")
    print(
        f"\n| modeled full sync: {args.guests} guests, {args.workers} workers, NetBox answering "
        f"in {args.netbox_latency_ms:g} ms | NetBox GETs | wall time |\n|---|---:|---:|"
    )
    print(f"| cache off | {off[0]:,} | {off[1]:.1f} s |")
    print(f"| cache on | {on[0]:,} | {on[1]:.1f} s |")


if __name__ == "__main__":
    main()

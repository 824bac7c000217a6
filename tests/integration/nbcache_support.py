"""Helpers for the NetBox GET cache tests: isolated settings, bookkeeping checks,
a fake NetBox HTTP server, a stoppable TCP proxy in front of Redis, a stress worker."""

from __future__ import annotations

import json
import random
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import redis

from shared.keys import Keys
from shared.netbox.cache import Lookup, NetBoxGetCache
from shared.netbox.cache_keys import EntryKey, endpoint_id, entry_key
from shared.redis_client import sync_client
from shared.settings import Settings, load_settings

REDIS_URL = "redis://127.0.0.1:6379/0"
NETBOX_A = "https://netbox-a.example.com"
TOKEN = "Token 0123456789abcdef0123456789abcdef01234567"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": REDIS_URL,
        "redis_prefix": f"test-{uuid.uuid4().hex[:12]}",
    }
    values.update(overrides)
    return load_settings(**values)


def delete_keys(settings: Settings) -> None:
    """SCAN-delete a prefix's keys on the real Redis (also for caches built behind a proxy)."""
    client = sync_client(make_settings(redis_prefix=settings.redis_prefix))
    try:
        found = list(client.scan_iter(Keys(settings.redis_prefix).all_keys_pattern(), count=1000))
        for start in range(0, len(found), 500):
            client.delete(*found[start : start + 500])
    finally:
        client.close()


def key(path: str, *, netbox: str = NETBOX_A, token: str = TOKEN) -> EntryKey:
    made = entry_key(endpoint_id(netbox), netbox + path, {"Authorization": token})
    assert made is not None
    return made


def fill(cache: NetBoxGetCache, entry: EntryKey, value: bytes) -> str:
    """Miss then store, as the session does."""
    lookup = cache.lookup(entry)
    assert not lookup.hit, f"{entry.entry_id} was already cached"
    return cache.store(entry, value, lookup)


def cached(cache: NetBoxGetCache, entry: EntryKey) -> bytes | None:
    return cache.lookup(entry).value


def check_bookkeeping(settings: Settings) -> dict[str, int]:
    """Assert every index agrees with what is stored; return entry count and bytes."""
    keys = Keys(settings.redis_prefix)
    client: redis.Redis = sync_client(settings)
    try:
        lru = {m.decode() for m in client.zrange(keys.nbcache_lru, 0, -1)}
        expiry = {m.decode() for m in client.zrange(keys.nbcache_expiry, 0, -1)}
        sizes = {k.decode(): int(v) for k, v in client.hgetall(keys.nbcache_sizes).items()}
        total = int(client.get(keys.nbcache_bytes) or 0)
        assert lru == expiry == set(sizes), "lru, exp and sz disagree"
        assert sum(sizes.values()) == total, "byte counter differs from the sizes"
        bodies = {
            k.decode().removeprefix(keys.nbcache_entry(""))
            for k in client.scan_iter(keys.nbcache_entry("*"), count=1000)
        }
        assert bodies == lru, "stored bodies differ from the index"
        for entry_id in lru:
            assert client.strlen(keys.nbcache_entry(entry_id)) == sizes[entry_id]
            endpoint, _, rest = entry_id.partition(":")
            path = rest.partition(":")[2].partition("?")[0]
            assert client.sismember(keys.nbcache_path_index(endpoint, path), entry_id)
            assert client.sismember(keys.nbcache_endpoint_index(endpoint), entry_id)
        indexed: set[str] = set()
        for name in client.scan_iter(f"{keys.nbcache}:idx:*", count=1000):
            indexed |= {m.decode() for m in client.smembers(name)}
        assert indexed == lru, "path indexes name entries that are not stored"
        return {"entries": len(lru), "bytes": total}
    finally:
        client.close()


# --- a fake NetBox ---------------------------------------------------------------------
class FakeNetBox:
    """Devices under /api/dcim/devices/ over real HTTP; counts requests per method+path."""

    def __init__(self) -> None:
        self.devices: dict[int, dict[str, Any]] = {
            n: {"id": n, "name": f"dev{n}", "status": "active"} for n in (10, 55)
        }
        self.requests: list[tuple[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def _answer(self, status: int, document: Any, content_type: str = "") -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type or "application/json")
                self.send_header("API-Version", "4.2")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length)) if length else None

            def _handle(self) -> None:
                owner.requests.append((self.command, self.path))
                status, document, content_type = owner.route(self.command, self.path, self._body())
                self._answer(status, document, content_type)

            do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def _device(self, number: int) -> dict[str, Any]:
        return {**self.devices[number], "url": f"{self.url}/api/dcim/devices/{number}/"}

    def route(self, method: str, raw_path: str, body: Any) -> tuple[int, Any, str]:
        path = urlsplit(raw_path).path
        if path == "/api/plain/":
            return 200, "not json", "text/plain"
        if path == "/api/broken/":
            return 500, {"detail": "boom"}, ""
        if path == "/api/dcim/devices/":
            if method == "GET":
                results = [self._device(n) for n in sorted(self.devices)]
                return 200, {"count": len(results), "next": None, "results": results}, ""
            for change in body:
                self.devices[int(change["id"])].update(change)
            return 200, [self._device(int(change["id"])) for change in body], ""
        parts = path.strip("/").split("/")
        if path.startswith("/api/dcim/devices/") and parts[-1].isdigit():
            number = int(parts[-1])
            if number not in self.devices:
                return 404, {"detail": "Not found."}, ""
            if method in ("PATCH", "PUT"):
                self.devices[number].update(body)
            return 200, self._device(number), ""
        return 404, {"detail": "no such path"}, ""

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p in self.requests if m == method and urlsplit(p).path == path)

    def __enter__(self) -> FakeNetBox:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- a TCP proxy in front of Redis that can be stopped and started ------------------------
class TcpProxy:
    """Forwards 127.0.0.1:<port> to Redis; ``stop()`` kills the listener and every link."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 6379)) -> None:
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            # close() alone does not wake a thread blocked in accept() on Linux
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.close()
            except OSError:
                pass


@contextmanager
def running(proxy: TcpProxy) -> Iterator[TcpProxy]:
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


# --- the multi-process stress worker -------------------------------------------------------
def stress_worker(prefix: str, seed: int, operations: int) -> None:
    """Random lookups, fills (some stale), invalidations and clears on a small key space."""
    settings = make_settings(
        redis_prefix=prefix, netbox_get_cache_max_entries=40, netbox_get_cache_max_bytes=20_000
    )
    cache = NetBoxGetCache.from_settings(settings)
    rng = random.Random(seed)
    endpoint = endpoint_id(NETBOX_A)
    held: list[tuple[EntryKey, Lookup]] = []
    try:
        for _ in range(operations):
            number = rng.randrange(30)
            path = rng.choice([f"/api/dcim/devices/{number}/", "/api/dcim/devices/"])
            entry = key(f"{path}?q={rng.randrange(5)}", token=f"Token {rng.randrange(3)}")
            roll = rng.random()
            if roll < 0.5:
                lookup = cache.lookup(entry)
                if not lookup.hit:
                    held.append((entry, lookup))
            elif roll < 0.95 and held:
                entry, lookup = held.pop(rng.randrange(len(held)))
                cache.store(entry, b"x" * rng.randrange(1, 1000), lookup)
            elif roll < 0.998:
                cache.invalidate(endpoint, [f"/api/dcim/devices/{number}/", "/api/dcim/devices/"])
            else:
                cache.clear(NETBOX_A if rng.random() < 0.5 else None)
        assert cache.guard.events == 0, "Redis failed during the stress run"
    finally:
        cache.close()

"""Process-wide resources of the sync actors, built once per worker process.

Redis clients (a short-timeout one for commands, a blocking-safe one for the
rate limiters: redis-py 8's 5 s default socket timeout breaks dramatiq's
limiter backend), the run ledger, the event publisher, the database, the shared
NetBox GET cache and the limiters.
"""

from __future__ import annotations

import contextlib
import functools
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import redis
from dramatiq.rate_limits import ConcurrentRateLimiter
from dramatiq.rate_limits.backends import RedisBackend
from sqlalchemy.orm import Session, sessionmaker

from shared.db.engine import build_engine, build_sessionmaker
from shared.events import Publisher
from shared.keys import Keys
from shared.netbox.cache import NetBoxGetCache
from shared.netbox.client import NetBoxClient
from shared.proxmox.client import ProxmoxClient
from shared.redis_client import sync_client
from shared.runs import LEDGER_TTL_S, RunLedger
from shared.settings import Settings, get_settings
from shared.sync.endpoints import load_proxmox, netbox_connection, proxmox_credentials

#: A limiter slot outlives the longest holder; a SIGKILLed worker's slot frees after this.
SLOT_TTL_MARGIN_MS = 60_000


class SlotBusy(Exception):
    """No limiter slot within the in-process wait: the message goes back to the queue."""


@dataclass
class Runtime:
    settings: Settings
    redis: redis.Redis
    keys: Keys
    ledger: RunLedger
    publisher: Publisher
    sessions: sessionmaker[Session]
    cache: NetBoxGetCache
    limiter_backend: RedisBackend

    def netbox(self) -> NetBoxClient:
        with self.sessions() as session:
            connection = netbox_connection(self.settings, session)
        client = NetBoxClient(connection, self.cache, timeout_s=self.settings.sync_http_timeout_s,
                              attempts=self.settings.sync_http_attempts)  # fmt: skip
        _opened().append(client)
        return client

    def proxmox(self, endpoint_id: int) -> tuple[ProxmoxClient, str | None]:
        """A client for the endpoint and the site slug it asks for."""
        with self.sessions() as session:
            row = load_proxmox(session, endpoint_id)
            client = ProxmoxClient(proxmox_credentials(self.settings, row))
        _opened().append(client)
        return client, row.site_slug

    def flush_request_counts(self, run_id: str) -> None:
        """Add the requests this thread's clients made to the run's tally, and close them."""
        tally: Counter[str] = Counter()
        for client in _opened():
            if isinstance(client, NetBoxClient):
                tally.update({f"netbox:{method}": n for method, n in client.requests.items()})
                client.close()
            else:
                tally["proxmox:GET"] += client.requests
        _opened().clear()
        if tally:
            pipe = self.redis.pipeline()
            for name, n in tally.items():
                pipe.hincrby(self.keys.sync_requests(run_id), name, n)
            pipe.expire(self.keys.sync_requests(run_id), LEDGER_TTL_S)
            pipe.execute()

    @contextlib.contextmanager
    def slot(self, resource: str, limit: int, wait_s: float | None = None) -> Iterator[None]:
        """Hold one of ``limit`` slots on ``resource`` across every worker process.

        Waits in-process up to ``wait_s`` (default ``sync_slot_wait_s``), then raises
        :class:`SlotBusy` so the message goes back to the queue without holding a thread.
        """
        limiter = ConcurrentRateLimiter(  # type: ignore[no-untyped-call]
            self.limiter_backend, self.keys.limiter(resource), limit=limit,
            ttl=self.settings.actor_time_limit_ms + SLOT_TTL_MARGIN_MS,
        )  # fmt: skip
        deadline = time.monotonic() + (self.settings.sync_slot_wait_s if wait_s is None else wait_s)
        while True:
            with limiter.acquire(raise_on_failure=False) as acquired:
                if acquired:
                    yield
                    return
            if time.monotonic() >= deadline:
                raise SlotBusy(resource)
            time.sleep(random.uniform(0.05, 0.25))

    def proxmox_slot(self, endpoint_id: int) -> contextlib.AbstractContextManager[None]:
        return self.slot(f"proxmox:{endpoint_id}", self.settings.sync_proxmox_concurrency)

    def netbox_slot(self, wait_s: float | None = None) -> contextlib.AbstractContextManager[None]:
        return self.slot("netbox", self.settings.sync_netbox_concurrency, wait_s)


_local = threading.local()


def _opened() -> list[NetBoxClient | ProxmoxClient]:
    """Clients the current message (one worker thread) built; counted and closed after it."""
    if not hasattr(_local, "clients"):
        _local.clients = []
    clients: list[NetBoxClient | ProxmoxClient] = _local.clients
    return clients


@functools.cache
def runtime() -> Runtime:
    settings = get_settings()
    client = sync_client(settings)
    keys = Keys(settings.redis_prefix)
    return Runtime(
        settings=settings,
        redis=client,
        keys=keys,
        ledger=RunLedger(client, keys),
        publisher=Publisher(client, keys),
        sessions=build_sessionmaker(build_engine(settings)),
        cache=NetBoxGetCache.from_settings(settings),
        limiter_backend=RedisBackend(client=sync_client(settings, blocking=True)),
    )


def retry_later_ms() -> int:
    """Jittered delay for a message that found its limiter full (contention, not failure)."""
    return random.randint(500, 3000)



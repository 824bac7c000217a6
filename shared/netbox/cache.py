"""The shared NetBox GET cache in Redis: TTL, true LRU by entries and bytes, exact-path invalidation.

One cache serves every worker on every host, so a sync does not re-read what
another worker just read, and a write anywhere is seen everywhere at once. Each
operation is one Lua script (``cache_scripts``): one round trip, atomic under
any number of processes. Most callers never use this class directly -- they use
``shared.netbox.session.cached_netbox_api`` which plugs it under pynetbox.

Fail-open: any Redis error or timeout makes the operation a no-op (a GET goes to
NetBox, a fill is skipped), opens a circuit for ``netbox_get_cache_retry_after_s``
so that a dead Redis costs nothing per request, and logs one warning per
``netbox_get_cache_warn_interval_s``. Those events are counted in this process
(Redis is down, after all) and added to the global counter on recovery, when
invalidations that could not be sent meanwhile are replayed too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import redis

from shared.keys import Keys
from shared.netbox import cache_scripts
from shared.netbox.cache_keys import EntryKey, endpoint_id
from shared.netbox.cache_metrics import CacheStats, parse_stats
from shared.redis_client import reply_text, sync_client
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)

T = TypeVar("T")

#: A fill must arrive within this long of its miss, and invalidation marks live this long.
FILL_HORIZON_S = 300
#: Expired entries reclaimed per fill (bounds the script's work).
PURGE_BATCH = 32
#: Native expiry of a stored body beyond its logical TTL: only a safety net against
#: leaks; entries are expired logically (``exp``) so the accounting stays exact.
BODY_GRACE_MS = 60_000
#: Invalidations remembered while Redis is down; beyond this, the endpoint is cleared.
MAX_PENDING_PATHS = 1000


@dataclass(frozen=True)
class Lookup:
    """Result of :meth:`NetBoxGetCache.lookup`.

    ``value`` is set on a hit. On a miss ``lease`` is the invalidation sequence to
    hand back to :meth:`NetBoxGetCache.store`; ``lease is None`` means "do not fill"
    (cache disabled or Redis unavailable).
    """

    value: bytes | None = None
    lease: int | None = None
    issued_at: float = field(default_factory=time.monotonic)

    @property
    def hit(self) -> bool:
        return self.value is not None


class FailOpenGuard:
    """Circuit breaker, rate-limited warning and in-process event count (thread-safe)."""

    def __init__(self, retry_after_s: float, warn_interval_s: float) -> None:
        self.retry_after_s = retry_after_s
        self.warn_interval_s = warn_interval_s
        self.events = 0  # every operation that bypassed the cache, this process
        self._unreported = 0  # not yet added to the Redis counter
        self._open_until = 0.0
        self._last_warning = float("-inf")
        self._lock = threading.Lock()

    def available(self) -> bool:
        with self._lock:
            if time.monotonic() < self._open_until:
                self.events += 1
                self._unreported += 1
                return False
            return True

    def failed(self, operation: str, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            self.events += 1
            self._unreported += 1
            self._open_until = now + self.retry_after_s
            warn = now - self._last_warning >= self.warn_interval_s
            if warn:
                self._last_warning = now
        if warn:
            log.warning(
                "NetBox GET cache unavailable (%s: %s); going straight to NetBox for %.1fs "
                "(this warning repeats at most every %.0fs)",
                operation,
                exc,
                self.retry_after_s,
                self.warn_interval_s,
            )

    def take_unreported(self) -> int:
        with self._lock:
            count, self._unreported = self._unreported, 0
            return count


class NetBoxGetCache:
    """Shared cache of NetBox GET answers. Thread-safe; one per process is enough."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.settings = settings
        self.keys = Keys(settings.redis_prefix)
        self.client = client
        self.guard = FailOpenGuard(
            settings.netbox_get_cache_retry_after_s, settings.netbox_get_cache_warn_interval_s
        )
        self._lookup = client.register_script(cache_scripts.LOOKUP)
        self._store = client.register_script(cache_scripts.STORE)
        self._invalidate = client.register_script(cache_scripts.INVALIDATE)
        self._clear = client.register_script(cache_scripts.CLEAR)
        self._stats = client.register_script(cache_scripts.STATS)
        self._pending_lock = threading.Lock()
        self._pending: dict[str, set[str]] = {}  # endpoint id -> paths; empty set = clear all
        self._recovering = False
        self._recover_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> NetBoxGetCache:
        """The cache with its own Redis client (2 s command timeout: fails open fast)."""
        settings = settings or get_settings()
        return cls(sync_client(settings), settings)

    @property
    def enabled(self) -> bool:
        """``PROXBOX_NETBOX_GET_CACHE_TTL=0`` turns the cache off."""
        return self.settings.netbox_get_cache_ttl > 0

    def close(self) -> None:
        self.client.close()

    # --- the hot path -------------------------------------------------------------
    def lookup(self, key: EntryKey) -> Lookup:
        """A hit (refreshing its recency), or a miss with the lease to fill it with."""
        if not self.enabled:
            return Lookup()
        reply = self._run(
            "lookup", lambda: self._lookup(keys=[self.keys.nbcache], args=[key.entry_id])
        )
        if reply is None:
            return Lookup()
        found, payload = reply
        if int(found):
            return Lookup(value=bytes(payload))
        return Lookup(lease=int(payload))

    def store(self, key: EntryKey, value: bytes, lookup: Lookup) -> str:
        """Fill after a miss. Returns ``stored``, ``stale``, ``oversize`` or ``skipped``.

        Refused as ``stale`` when the path (or its endpoint, or the cache) was
        invalidated after ``lookup`` handed out its lease: the answer may predate a write.
        """
        if lookup.lease is None or time.monotonic() - lookup.issued_at > FILL_HORIZON_S - 5:
            return "skipped"
        ttl_s = self.settings.netbox_get_cache_ttl
        args: list[str | int | bytes] = [
            key.entry_id,
            value,
            ttl_s * 1_000_000,
            lookup.lease,
            self.settings.netbox_get_cache_max_entries,
            self.settings.netbox_get_cache_max_bytes,
            PURGE_BATCH,
            ttl_s * 1000 + BODY_GRACE_MS,
        ]
        reply = self._run("store", lambda: self._store(keys=[self.keys.nbcache], args=args))
        return "skipped" if reply is None else reply_text(reply)

    # --- invalidation and clearing ------------------------------------------------
    def invalidate(self, endpoint: str, paths: Sequence[str]) -> int:
        """Drop every entry (all tokens, all query variants) of exactly these API paths.

        ``endpoint`` is an endpoint id (``cache_keys.endpoint_id(url)``). Returns the
        number of entries dropped; if Redis is down the paths are remembered and sent
        on recovery (entries cannot be served meanwhile: nothing is served).
        """
        if not paths:
            return 0
        reply = self._run(
            "invalidate",
            lambda: self._invalidate(
                keys=[self.keys.nbcache], args=[endpoint, FILL_HORIZON_S, *paths]
            ),
        )
        if reply is None:
            self._remember(endpoint, paths)
            return 0
        return int(reply)

    def clear(self, endpoint_url: str | None = None) -> int:
        """Drop everything, or everything of the NetBox at ``endpoint_url``.

        Raises ``ValidationFailed`` for a URL that is not http(s), and the Redis error
        itself if Redis is down (an operator asked; fail-open is for the sync path).
        """
        endpoint = "" if endpoint_url is None else endpoint_id(endpoint_url)
        return int(self._clear(keys=[self.keys.nbcache], args=[endpoint, FILL_HORIZON_S]))

    def stats(self) -> CacheStats:
        """Global counters and sizes (raises the Redis error if Redis is down)."""
        raw = self._stats(keys=[self.keys.nbcache], args=[PURGE_BATCH * 32])
        return parse_stats(raw, self.settings)

    # --- fail-open ----------------------------------------------------------------
    def _run(self, operation: str, call: Callable[[], T]) -> T | None:
        if not self.guard.available():
            return None
        try:
            if self._recovering:
                self._replay_pending()
            return call()
        except (redis.RedisError, OSError) as exc:
            self._recovering = True
            self.guard.failed(operation, exc)
            return None

    def _remember(self, endpoint: str, paths: Sequence[str]) -> None:
        with self._pending_lock:
            known = self._pending.setdefault(endpoint, set())
            if "" in known:
                return
            known.update(paths)
            if len(known) > MAX_PENDING_PATHS:
                known.clear()  # too many to replay one by one: clear the endpoint instead
                known.add("")

    def _replay_pending(self) -> None:
        """Redis answers again: send missed invalidations before serving anything from it."""
        with self._recover_lock:
            if not self._recovering:
                return  # another thread just did it
            with self._pending_lock:
                pending, self._pending = self._pending, {}
            base = [self.keys.nbcache]
            try:
                for endpoint, paths in pending.items():
                    if "" in paths:
                        self._clear(keys=base, args=[endpoint, FILL_HORIZON_S])
                    else:
                        args: list[str | int] = [endpoint, FILL_HORIZON_S, *sorted(paths)]
                        self._invalidate(keys=base, args=args)
                missed = self.guard.take_unreported()
                if missed:
                    self.client.hincrby(self.keys.nbcache_stats, "fail_open", missed)
            except BaseException:
                with self._pending_lock:
                    for endpoint, paths in pending.items():
                        self._pending.setdefault(endpoint, set()).update(paths)
                raise
            self._recovering = False
        log.info(
            "NetBox GET cache reachable again; replayed invalidations of %d endpoint(s)",
            len(pending),
        )

"""Statistics of the NetBox GET cache: parsing the STATS script's answer and rendering it.

Shared by the sync cache (workers) and the gateway's async routes, which run the
same script through ``redis.asyncio``. Counters live in Redis, so they are global
across processes and hosts; ``fail_open`` is the exception: while Redis is down
each process counts its own events and adds them to Redis once it answers again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from shared.redis_client import reply_text
from shared.settings import Settings

#: The Prometheus text exposition format the routes answer with.
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Counter fields kept in the Redis stats hash.
COUNTERS = (
    "hits",
    "misses",
    "fills",
    "fills_stale",
    "fills_oversize",
    "evictions_ttl",
    "evictions_entries",
    "evictions_bytes",
    "invalidations",
    "invalidation_requests",
    "clears",
    "cleared_entries",
    "fail_open",
)


@dataclass(frozen=True)
class CacheStats:
    entries: int
    bytes: int
    max_entries: int
    max_bytes: int
    ttl_seconds: int
    oldest_entry_age_seconds: float | None
    hits: int = 0
    misses: int = 0
    fills: int = 0
    fills_stale: int = 0
    fills_oversize: int = 0
    evictions_ttl: int = 0
    evictions_entries: int = 0
    evictions_bytes: int = 0
    invalidations: int = 0
    invalidation_requests: int = 0
    clears: int = 0
    cleared_entries: int = 0
    fail_open: int = 0

    @property
    def hit_rate(self) -> float:
        """Hits over lookups, 0..1 (0 before the first lookup)."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0

    def summary(self) -> dict[str, Any]:
        """The ``GET /cache`` document."""
        return {
            "entries": self.entries,
            "bytes": self.bytes,
            "limits": {
                "max_entries": self.max_entries,
                "max_bytes": self.max_bytes,
                "ttl_seconds": self.ttl_seconds,
            },
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": round(self.hit_rate, 4),
            "fills": {
                "stored": self.fills,
                "refused_stale": self.fills_stale,
                "refused_oversize": self.fills_oversize,
            },
            "evictions": {
                "ttl": self.evictions_ttl,
                "entries": self.evictions_entries,
                "bytes": self.evictions_bytes,
            },
            "invalidations": {
                "entries": self.invalidations,
                "requests": self.invalidation_requests,
            },
            "clears": {"requests": self.clears, "entries": self.cleared_entries},
            "fail_open_events": self.fail_open,
            "oldest_entry_age_seconds": self.oldest_entry_age_seconds,
        }

    def flat(self) -> dict[str, int | float | None]:
        """The ``GET /cache/metrics`` document: one level, every number."""
        values: dict[str, int | float | None] = dict(asdict(self))
        values["hit_rate"] = round(self.hit_rate, 4)
        return values


def parse_stats(raw: Sequence[Any], settings: Settings) -> CacheStats:
    """Build :class:`CacheStats` from the STATS script's reply (bytes or str items)."""
    pairs, entries, total_bytes, oldest_expiry, now_us = raw
    counters = {reply_text(pairs[i]): int(pairs[i + 1]) for i in range(0, len(pairs), 2)}
    ttl = settings.netbox_get_cache_ttl
    age: float | None = None
    if reply_text(oldest_expiry):
        # exp = insertion + ttl, so this assumes the TTL was not changed meanwhile
        age = max(0.0, (int(now_us) - float(oldest_expiry)) / 1e6 + ttl)
        age = round(age, 3)
    return CacheStats(
        entries=int(entries),
        bytes=int(total_bytes),
        max_entries=settings.netbox_get_cache_max_entries,
        max_bytes=settings.netbox_get_cache_max_bytes,
        ttl_seconds=ttl,
        oldest_entry_age_seconds=age,
        **{name: counters.get(name, 0) for name in COUNTERS},
    )


class _StatsCollector:
    def __init__(self, stats: CacheStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        for name, doc, value in (
            ("hits", "Lookups answered from the cache", s.hits),
            ("misses", "Lookups that went to NetBox", s.misses),
            ("fills", "Answers stored after a miss", s.fills),
            ("invalidations", "Entries dropped because NetBox was written", s.invalidations),
            ("fail_open", "Operations that bypassed an unavailable Redis", s.fail_open),
        ):
            yield CounterMetricFamily(f"proxbox_cache_{name}", doc, value=value)
        refused = CounterMetricFamily(
            "proxbox_cache_fills_refused", "Fills not stored, by reason", labels=["reason"]
        )
        refused.add_metric(["stale"], s.fills_stale)
        refused.add_metric(["oversize"], s.fills_oversize)
        yield refused
        evictions = CounterMetricFamily(
            "proxbox_cache_evictions", "Entries evicted, by cause", labels=["cause"]
        )
        for cause, value in (
            ("ttl", s.evictions_ttl),
            ("entries", s.evictions_entries),
            ("bytes", s.evictions_bytes),
        ):
            evictions.add_metric([cause], value)
        yield evictions
        for name, doc, gauge in (
            ("entries", "Entries stored", s.entries),
            ("bytes", "Bytes stored (response bodies and headers kept)", s.bytes),
            ("max_entries", "Entry limit", s.max_entries),
            ("max_bytes", "Byte limit", s.max_bytes),
            ("ttl_seconds", "Time to live of an entry", s.ttl_seconds),
            ("hit_rate", "Hits over lookups since the counters started", s.hit_rate),
            ("oldest_entry_age_seconds", "Age of the oldest entry", s.oldest_entry_age_seconds),
        ):
            if gauge is not None:
                yield GaugeMetricFamily(f"proxbox_cache_{name}", doc, value=gauge)


def render_prometheus(stats: CacheStats) -> bytes:
    """Prometheus text format 0.0.4, every name prefixed ``proxbox_cache_``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatsCollector(stats))
    return generate_latest(registry)

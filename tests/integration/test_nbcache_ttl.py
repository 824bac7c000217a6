"""Entries expire after PROXBOX_NETBOX_GET_CACHE_TTL; 0 turns the cache off."""

from __future__ import annotations

import time

from tests.integration.conftest import MakeCache
from tests.integration.nbcache_support import cached, check_bookkeeping, fill, key


def test_an_entry_is_served_until_its_ttl_then_missed(make_nbcache: MakeCache) -> None:
    cache = make_nbcache(netbox_get_cache_ttl=1)
    device = key("/api/dcim/devices/55/")
    assert fill(cache, device, b"old answer") == "stored"
    assert cached(cache, device) == b"old answer"

    time.sleep(1.1)

    assert cached(cache, device) is None
    stats = cache.stats()
    assert (stats.entries, stats.bytes, stats.evictions_ttl) == (0, 0, 1)
    check_bookkeeping(cache.settings)


def test_a_fill_reclaims_expired_entries_without_being_asked(make_nbcache: MakeCache) -> None:
    cache = make_nbcache(netbox_get_cache_ttl=1)
    for number in range(5):
        fill(cache, key(f"/api/dcim/devices/{number}/"), b"x" * 10)
    time.sleep(1.1)

    fill(cache, key("/api/dcim/sites/"), b"fresh")

    assert check_bookkeeping(cache.settings) == {"entries": 1, "bytes": 5}
    assert cache.stats().evictions_ttl == 5


def test_stats_report_the_age_of_the_oldest_entry(make_nbcache: MakeCache) -> None:
    cache = make_nbcache(netbox_get_cache_ttl=30)
    assert cache.stats().oldest_entry_age_seconds is None
    fill(cache, key("/api/dcim/devices/1/"), b"a")
    time.sleep(0.3)

    age = cache.stats().oldest_entry_age_seconds

    assert age is not None and 0.25 <= age < 5


def test_ttl_zero_turns_the_cache_off(make_nbcache: MakeCache) -> None:
    cache = make_nbcache(netbox_get_cache_ttl=0)
    device = key("/api/dcim/devices/55/")

    lookup = cache.lookup(device)

    assert not cache.enabled
    assert (lookup.hit, lookup.lease) == (False, None)
    assert cache.store(device, b"answer", lookup) == "skipped"
    assert cache.stats().entries == 0

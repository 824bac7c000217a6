"""Real LRU (a hit refreshes recency) bounded by entries and by bytes; the Lua key
layout matches ``shared.keys.Keys``."""

from __future__ import annotations

from shared.keys import Keys
from shared.netbox.cache_keys import endpoint_id
from tests.integration.conftest import MakeCache
from tests.integration.nbcache_support import NETBOX_A, cached, check_bookkeeping, fill, key


def test_the_least_recently_used_entry_goes_first_and_a_hit_refreshes(
    make_nbcache: MakeCache,
) -> None:
    cache = make_nbcache(netbox_get_cache_max_entries=3)
    one, two, three, four = (key(f"/api/dcim/devices/{n}/") for n in (1, 2, 3, 4))
    for entry in (one, two, three):
        fill(cache, entry, b"x")
    assert cached(cache, one) == b"x"  # 1 is now the most recent; 2 the least

    fill(cache, four, b"x")

    assert cached(cache, two) is None
    assert all(cached(cache, entry) == b"x" for entry in (one, three, four))
    assert cache.stats().evictions_entries == 1
    assert check_bookkeeping(cache.settings)["entries"] == 3


def test_the_byte_limit_evicts_least_recently_used_until_it_fits(make_nbcache: MakeCache) -> None:
    cache = make_nbcache(netbox_get_cache_max_bytes=1000)
    small = [key(f"/api/dcim/devices/{n}/") for n in range(4)]
    for entry in small:
        fill(cache, entry, b"s" * 200)  # 800 bytes
    cached(cache, small[0])  # refresh 0: 1 and 2 are now the oldest

    fill(cache, key("/api/dcim/sites/"), b"b" * 550)

    assert [cached(cache, entry) is not None for entry in small] == [True, False, False, True]
    stats = cache.stats()
    assert (stats.bytes, stats.evictions_bytes) == (950, 2)
    check_bookkeeping(cache.settings)


def test_a_value_larger_than_the_byte_limit_is_refused_and_evicts_nothing(
    make_nbcache: MakeCache,
) -> None:
    cache = make_nbcache(netbox_get_cache_max_bytes=100)
    fill(cache, key("/api/dcim/devices/1/"), b"k" * 60)

    outcome = fill(cache, key("/api/dcim/devices/2/"), b"h" * 101)

    assert outcome == "oversize"
    assert cached(cache, key("/api/dcim/devices/1/")) == b"k" * 60
    assert cache.stats().fills_oversize == 1


def test_refilling_an_entry_replaces_it_without_double_counting(make_nbcache: MakeCache) -> None:
    cache = make_nbcache()
    device = key("/api/dcim/devices/1/")
    fill(cache, device, b"a" * 10)
    cache.store(device, b"b" * 30, cache.lookup(key("/api/dcim/devices/2/")))

    assert cached(cache, device) == b"b" * 30
    assert check_bookkeeping(cache.settings) == {"entries": 1, "bytes": 30}


def test_the_scripts_write_exactly_the_keys_that_keys_names(make_nbcache: MakeCache) -> None:
    cache = make_nbcache()
    device = key("/api/dcim/devices/55/?brief=1")
    fill(cache, device, b"answer")
    cache.invalidate(endpoint_id(NETBOX_A), ["/api/dcim/sites/"])  # another path
    keys, client = Keys(cache.settings.redis_prefix), cache.client
    endpoint = endpoint_id(NETBOX_A)

    assert client.get(keys.nbcache_entry(device.entry_id)) == b"answer"
    assert client.hget(keys.nbcache_sizes, device.entry_id) == b"6"
    assert client.zscore(keys.nbcache_lru, device.entry_id) is not None
    assert client.zscore(keys.nbcache_expiry, device.entry_id) is not None
    assert client.get(keys.nbcache_bytes) == b"6"
    assert client.sismember(keys.nbcache_path_index(endpoint, device.path), device.entry_id)
    assert client.sismember(keys.nbcache_endpoint_index(endpoint), device.entry_id)
    assert client.get(keys.nbcache_path_generation(endpoint, "/api/dcim/sites/")) == b"1"
    assert client.get(keys.nbcache_seq) == b"1"
    assert client.hget(keys.nbcache_stats, "fills") == b"1"
    cache.clear(NETBOX_A)
    assert client.get(keys.nbcache_endpoint_generation(endpoint)) == b"2"
    cache.clear()
    assert client.get(keys.nbcache_all_generation) == b"3"

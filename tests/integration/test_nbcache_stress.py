"""Four processes hammering one cache leave its bookkeeping exact and its limits held."""

from __future__ import annotations

import multiprocessing

from shared.netbox.cache import NetBoxGetCache
from tests.integration.conftest import MakeCache
from tests.integration.nbcache_support import check_bookkeeping, stress_worker

PROCESSES = 4
OPERATIONS = 3000


def test_concurrent_processes_keep_the_bookkeeping_consistent(make_nbcache: MakeCache) -> None:
    cache: NetBoxGetCache = make_nbcache(
        netbox_get_cache_max_entries=40, netbox_get_cache_max_bytes=20_000
    )
    spawn = multiprocessing.get_context("spawn")
    workers = [
        spawn.Process(target=stress_worker, args=(cache.settings.redis_prefix, seed, OPERATIONS))
        for seed in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES

    stored = check_bookkeeping(cache.settings)
    stats = cache.stats()
    assert stored["entries"] == stats.entries <= 40
    assert stored["bytes"] == stats.bytes <= 20_000
    assert stats.hits + stats.misses > PROCESSES * OPERATIONS * 0.4
    # every limit and every rule was exercised, not just the happy path
    assert stats.evictions_entries > 0 and stats.evictions_bytes > 0
    assert stats.fills_stale > 0 and stats.invalidations > 0 and stats.hits > 0

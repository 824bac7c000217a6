"""When Redis is down or slow, requests go straight to NetBox, the cache counts it and
warns once per interval; when Redis answers again, missed invalidations are replayed."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest

from shared.netbox.cache_keys import endpoint_id
from shared.netbox.session import cached_netbox_api
from tests.integration.conftest import MakeCache
from tests.integration.nbcache_support import (
    NETBOX_A,
    FakeNetBox,
    TcpProxy,
    cached,
    fill,
    key,
)

CACHE_LOGGER = "shared.netbox.cache"


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A port that accepts connections and never answers: a Redis that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    listener.close()


def test_with_redis_unreachable_every_get_goes_to_netbox_and_nothing_fails(
    make_nbcache: MakeCache, caplog: pytest.LogCaptureFixture
) -> None:
    cache = make_nbcache(redis_url="redis://127.0.0.1:1/0", netbox_get_cache_retry_after_s=0.01)
    with FakeNetBox() as netbox, caplog.at_level(logging.WARNING, logger=CACHE_LOGGER):
        api = cached_netbox_api(netbox.url, "0123456789abcdef0123456789abcdef01234567", cache)
        for _ in range(3):
            assert api.dcim.devices.get(55).name == "dev55"
            time.sleep(0.02)  # past the retry interval: each GET tries Redis again
        device = api.dcim.devices.get(55)
        device.name = "renamed"
        assert device.save()

    assert netbox.count("GET", "/api/dcim/devices/55/") == 4
    assert cache.guard.events >= 5  # 4 lookups + 1 invalidation, none of them served
    warnings = [r for r in caplog.records if r.name == CACHE_LOGGER]
    assert len(warnings) == 1, "the warning repeats at most once per interval"
    assert "going straight to NetBox" in warnings[0].getMessage()


def test_a_hanging_redis_costs_one_timeout_then_is_skipped(
    make_nbcache: MakeCache, black_hole: str
) -> None:
    cache = make_nbcache(redis_url=black_hole, netbox_get_cache_retry_after_s=30)
    started = time.monotonic()
    first = cache.lookup(key("/api/dcim/devices/1/"))
    first_took = time.monotonic() - started

    started = time.monotonic()
    for number in range(100):
        assert cache.lookup(key(f"/api/dcim/devices/{number}/")).lease is None
    rest_took = time.monotonic() - started

    assert first.lease is None and 1.5 < first_took < 3.0  # the 2 s command timeout
    assert rest_took < 0.1  # the circuit is open: no Redis round trips at all
    assert cache.guard.events == 101


def test_after_an_outage_missed_invalidations_are_replayed_and_events_counted(
    make_nbcache: MakeCache,
) -> None:
    proxy = TcpProxy()
    proxy.start()
    try:
        cache = make_nbcache(redis_url=proxy.url, netbox_get_cache_retry_after_s=0.2)
        device, other = key("/api/dcim/devices/55/"), key("/api/dcim/devices/10/")
        fill(cache, device, b"before the write")
        fill(cache, other, b"untouched")

        proxy.stop()  # Redis "stops"
        assert cache.lookup(device).value is None  # nothing served while down
        assert cache.invalidate(endpoint_id(NETBOX_A), ["/api/dcim/devices/55/"]) == 0

        proxy.start()  # Redis is back
        time.sleep(0.25)
        assert cached(cache, device) is None  # the write made while down is honoured
        assert cached(cache, other) == b"untouched"
        assert cache.stats().fail_open >= 2
    finally:
        proxy.stop()

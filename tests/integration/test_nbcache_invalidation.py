"""Exact-path invalidation: a write drops its path and its parent list (every query
variant, every token) and nothing else; bulk writes drop the objects they name;
a GET that started before an invalidation cannot store its old answer after it."""

from __future__ import annotations

import pytest

from shared.netbox.cache import NetBoxGetCache
from shared.netbox.cache_keys import endpoint_id, invalidated_paths
from tests.integration.nbcache_support import NETBOX_A, cached, check_bookkeeping, fill, key

DEVICES = "/api/dcim/devices/"


def written(cache: NetBoxGetCache, path: str, body: object = None, answer: object = None) -> int:
    return cache.invalidate(endpoint_id(NETBOX_A), invalidated_paths(path, body, answer))


@pytest.mark.parametrize(
    ("path", "body", "answer", "expected"),
    [
        ("/api/dcim/devices/55/", None, None, ["/api/dcim/devices/55/", DEVICES]),
        ("/api/dcim/devices/55", None, None, ["/api/dcim/devices/55/", DEVICES]),
        (
            DEVICES,
            [{"id": 1}, {"id": "2"}, {"name": "x"}],
            None,
            [DEVICES, "/api/dcim/devices/1/", "/api/dcim/devices/2/"],
        ),
        (
            DEVICES,
            {"name": "new"},
            {"id": 7, "url": "http://nb/api/dcim/devices/7/"},
            [DEVICES, "/api/dcim/devices/7/"],
        ),
        (
            "/api/ipam/prefixes/3/available-ips/",
            None,
            [{"id": 9, "url": "http://nb/api/ipam/ip-addresses/9/"}],
            [
                "/api/ipam/prefixes/3/available-ips/",
                "/api/ipam/ip-addresses/9/",
                "/api/ipam/ip-addresses/",
            ],
        ),
        (
            "/netbox/api/dcim/devices/55/",
            None,
            None,
            ["/netbox/api/dcim/devices/55/", "/netbox/api/dcim/devices/"],
        ),
        ("/login/", None, None, []),
    ],
)
def test_which_paths_a_write_invalidates(
    path: str, body: object, answer: object, expected: list[str]
) -> None:
    assert invalidated_paths(path, body, answer) == expected


def test_a_detail_write_drops_the_detail_and_the_list_in_every_variant_and_nothing_else(
    nbcache: NetBoxGetCache,
) -> None:
    stale = [
        key("/api/dcim/devices/55/"),
        key("/api/dcim/devices/55/?brief=1"),
        key("/api/dcim/devices/55/", token="Token another"),
        key(DEVICES),
        key(f"{DEVICES}?limit=50&offset=0"),
        key(f"{DEVICES}?name=dev55"),
    ]
    kept = [
        key("/api/dcim/devices/10/"),
        key("/api/dcim/devices/10/?brief=1"),
        key("/api/dcim/devices/550/"),
        key("/api/dcim/device-roles/"),
        key("/api/dcim/devices/55/", netbox="https://netbox-b.example.com"),
    ]
    for entry in stale + kept:
        fill(nbcache, entry, b"v")

    dropped = written(nbcache, "/api/dcim/devices/55/")

    assert dropped == len(stale)
    assert [cached(nbcache, entry) for entry in stale] == [None] * len(stale)
    assert [cached(nbcache, entry) for entry in kept] == [b"v"] * len(kept)
    assert nbcache.stats().invalidations == len(stale)
    check_bookkeeping(nbcache.settings)


def test_a_bulk_write_to_a_list_drops_the_list_and_the_objects_it_names(
    nbcache: NetBoxGetCache,
) -> None:
    named = [key("/api/dcim/devices/1/"), key("/api/dcim/devices/2/?brief=1")]
    listed = [key(DEVICES), key(f"{DEVICES}?site_id=3")]
    other = key("/api/dcim/devices/3/")
    for entry in [*named, *listed, other]:
        fill(nbcache, entry, b"v")

    written(nbcache, DEVICES, body=[{"id": 1, "status": "offline"}, {"id": 2}])

    assert [cached(nbcache, entry) for entry in named + listed] == [None] * 4
    assert cached(nbcache, other) == b"v"


def test_a_get_started_before_an_invalidation_cannot_store_its_answer_after_it(
    nbcache: NetBoxGetCache,
) -> None:
    device = key("/api/dcim/devices/55/?brief=1")
    listing = key(DEVICES)
    before_device = nbcache.lookup(device)  # worker A starts reading...
    before_list = nbcache.lookup(listing)

    written(nbcache, "/api/dcim/devices/55/")  # ...worker B writes and invalidates...

    assert nbcache.store(device, b"old", before_device) == "stale"  # ...A's fill is refused
    assert nbcache.store(listing, b"old", before_list) == "stale"
    assert cached(nbcache, device) is None
    assert nbcache.stats().fills_stale == 2
    assert fill(nbcache, device, b"new") == "stored"  # a GET started after is fine


def test_an_invalidation_of_another_path_does_not_refuse_a_fill(nbcache: NetBoxGetCache) -> None:
    device = key("/api/dcim/devices/10/")
    lookup = nbcache.lookup(device)

    written(nbcache, "/api/dcim/devices/55/")

    assert nbcache.store(device, b"fresh", lookup) == "stored"


def test_clearing_refuses_fills_that_started_before_it(nbcache: NetBoxGetCache) -> None:
    device = key("/api/dcim/devices/10/")
    for clear in (lambda: nbcache.clear(NETBOX_A), lambda: nbcache.clear()):
        lookup = nbcache.lookup(device)
        clear()
        assert nbcache.store(device, b"old", lookup) == "stale"

"""One NetBox's answers are never served for another, nor across tokens or branches;
clearing one endpoint leaves the others."""

from __future__ import annotations

from shared.netbox.cache import NetBoxGetCache
from shared.netbox.cache_keys import endpoint_id, entry_key, scope_id
from tests.integration.nbcache_support import NETBOX_A, cached, check_bookkeeping, fill, key

NETBOX_B = "https://netbox-b.example.com"


def test_the_same_path_on_two_netboxes_is_two_entries(nbcache: NetBoxGetCache) -> None:
    fill(nbcache, key("/api/dcim/devices/1/", netbox=NETBOX_A), b"from A")

    assert cached(nbcache, key("/api/dcim/devices/1/", netbox=NETBOX_B)) is None
    fill(nbcache, key("/api/dcim/devices/1/", netbox=NETBOX_B), b"from B")
    assert cached(nbcache, key("/api/dcim/devices/1/", netbox=NETBOX_A)) == b"from A"
    assert cached(nbcache, key("/api/dcim/devices/1/", netbox=NETBOX_B)) == b"from B"


def test_answers_are_not_shared_across_tokens(nbcache: NetBoxGetCache) -> None:
    fill(nbcache, key("/api/dcim/devices/", token="Token admin"), b"everything")

    assert cached(nbcache, key("/api/dcim/devices/", token="Token read-only")) is None
    assert cached(nbcache, key("/api/dcim/devices/", token="Bearer nbt_admin")) is None


def test_the_token_is_hashed_never_stored(nbcache: NetBoxGetCache) -> None:
    secret = "Token 4f1c2a9b8e7d6c5b4a3928170615f4e3d2c1b0a9"
    fill(nbcache, key("/api/dcim/devices/", token=secret), b"v")

    for name in nbcache.client.scan_iter(f"{nbcache.keys.nbcache}:*"):
        assert b"4f1c2a9b8e7d" not in name
        kind = nbcache.client.type(name)
        if kind == b"zset":
            members = nbcache.client.zrange(name, 0, -1)
        elif kind == b"set":
            members = list(nbcache.client.smembers(name))
        elif kind == b"hash":
            members = list(nbcache.client.hkeys(name))
        else:
            members = [nbcache.client.get(name) or b""]
        assert not any(b"4f1c2a9b8e7d" in member for member in members)


def test_endpoint_ids_ignore_case_default_ports_and_paths() -> None:
    assert endpoint_id("HTTPS://NetBox-A.example.com:443/api/") == endpoint_id(NETBOX_A)
    assert endpoint_id("http://netbox-a.example.com") != endpoint_id(NETBOX_A)
    assert endpoint_id("https://netbox-a.example.com:8443") != endpoint_id(NETBOX_A)


def test_branch_header_and_token_make_the_scope() -> None:
    plain = scope_id({"Authorization": "Token a"})
    assert scope_id({"authorization": "Token a"}) == plain
    assert scope_id({"Authorization": "Token a", "X-NetBox-Branch": "b1"}) != plain
    url = NETBOX_A + "/api/dcim/devices/?b=2&a=1"
    one = entry_key("ep", url, {})
    other = entry_key("ep", NETBOX_A + "/api/dcim/devices/?a=1&b=2", {})
    assert one == other  # the order of query parameters does not matter
    assert entry_key("ep", NETBOX_A + "/login/", {}) is None
    assert entry_key("ep", NETBOX_A + "/api/status/", {}) is None


def test_clearing_one_endpoint_leaves_the_other(nbcache: NetBoxGetCache) -> None:
    for netbox in (NETBOX_A, NETBOX_B):
        for path in ("/api/dcim/devices/", "/api/dcim/sites/1/"):
            fill(nbcache, key(path, netbox=netbox), b"v")

    assert nbcache.clear("https://NETBOX-A.example.com/api/") == 2

    assert cached(nbcache, key("/api/dcim/devices/", netbox=NETBOX_A)) is None
    assert cached(nbcache, key("/api/dcim/devices/", netbox=NETBOX_B)) == b"v"
    assert check_bookkeeping(nbcache.settings)["entries"] == 2
    assert nbcache.clear() == 2
    assert check_bookkeeping(nbcache.settings) == {"entries": 0, "bytes": 0}

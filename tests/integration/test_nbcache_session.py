"""The seam: a real pynetbox, a real HTTP server, the real Redis. A repeated GET is
served from the cache; a write through pynetbox invalidates exactly what it touched."""

from __future__ import annotations

from collections.abc import Iterator

import pynetbox
import pytest
import requests

from shared.netbox.cache import NetBoxGetCache
from shared.netbox.session import CACHE_HEADER, CachingSession, cached_netbox_api
from tests.integration.nbcache_support import FakeNetBox

TOKEN = "0123456789abcdef0123456789abcdef01234567"
DEVICE_55 = "/api/dcim/devices/55/"


@pytest.fixture
def netbox() -> Iterator[FakeNetBox]:
    with FakeNetBox() as server:
        yield server


@pytest.fixture
def api(netbox: FakeNetBox, nbcache: NetBoxGetCache) -> pynetbox.api:
    return cached_netbox_api(netbox.url, TOKEN, nbcache)


def test_a_second_get_is_served_from_the_cache(api: pynetbox.api, netbox: FakeNetBox) -> None:
    first = api.dcim.devices.get(55)
    second = api.dcim.devices.get(55)

    assert first.name == second.name == "dev55"
    assert netbox.count("GET", DEVICE_55) == 1


def test_a_patch_through_pynetbox_invalidates_the_object_and_its_list(
    api: pynetbox.api, netbox: FakeNetBox
) -> None:
    api.dcim.devices.get(55)
    api.dcim.devices.get(10)
    list(api.dcim.devices.filter(name="dev55"))
    device = api.dcim.devices.get(55)

    device.name = "renamed"
    assert device.save()

    assert api.dcim.devices.get(55).name == "renamed"
    assert netbox.count("GET", DEVICE_55) == 2
    list(api.dcim.devices.filter(name="dev55"))
    assert netbox.count("GET", "/api/dcim/devices/") == 2
    api.dcim.devices.get(10)
    assert netbox.count("GET", "/api/dcim/devices/10/") == 1  # untouched by the write to 55


def test_a_bulk_update_invalidates_the_objects_it_names(
    api: pynetbox.api, netbox: FakeNetBox
) -> None:
    api.dcim.devices.get(55)
    api.dcim.devices.get(10)

    api.dcim.devices.update([{"id": 55, "status": "offline"}])

    assert api.dcim.devices.get(55).status == "offline"
    api.dcim.devices.get(10)
    assert (netbox.count("GET", DEVICE_55), netbox.count("GET", "/api/dcim/devices/10/")) == (2, 1)


def test_errors_non_json_bodies_and_non_api_paths_are_never_cached(
    nbcache: NetBoxGetCache, netbox: FakeNetBox
) -> None:
    session = CachingSession(nbcache, netbox.url)
    for path in ("/api/dcim/devices/999/", "/api/plain/", "/api/broken/", "/login/"):
        session.get(netbox.url + path)
        session.get(netbox.url + path)
        assert netbox.count("GET", path) == 2, path
    session.request("GET", netbox.url + DEVICE_55, json={"a": 1})
    session.request("GET", netbox.url + DEVICE_55, json={"a": 1})
    assert netbox.count("GET", DEVICE_55) == 2  # a GET with a body is not a plain read
    assert nbcache.stats().entries == 0


def test_a_hit_looks_like_the_netbox_answer(nbcache: NetBoxGetCache, netbox: FakeNetBox) -> None:
    session = CachingSession(nbcache, netbox.url)
    fetched = session.get(netbox.url + DEVICE_55, params={"brief": "1"})
    served = session.get(netbox.url + DEVICE_55, params={"brief": "1"})

    assert CACHE_HEADER not in fetched.headers and served.headers[CACHE_HEADER] == "hit"
    assert served.status_code == 200 and served.ok
    assert served.json() == fetched.json()
    assert served.headers["API-Version"] == "4.2"
    assert served.url == fetched.url


def test_two_tokens_do_not_share_answers(nbcache: NetBoxGetCache, netbox: FakeNetBox) -> None:
    admin = cached_netbox_api(netbox.url, TOKEN, nbcache)
    reader = cached_netbox_api(netbox.url, "f" * 40, nbcache)
    admin.dcim.devices.get(55)
    reader.dcim.devices.get(55)
    admin.dcim.devices.get(55)
    assert netbox.count("GET", DEVICE_55) == 2


def test_a_link_to_another_origin_is_fetched_but_not_cached(
    nbcache: NetBoxGetCache, netbox: FakeNetBox
) -> None:
    session = CachingSession(nbcache, "https://netbox.example.com")
    for _ in range(2):
        assert session.get(netbox.url + DEVICE_55).status_code == 200
    assert netbox.count("GET", DEVICE_55) == 2
    assert isinstance(session, requests.Session)

"""Fixtures of the integration suites (the run-wide ones are in ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared.netbox.cache import NetBoxGetCache
from shared.settings import Settings
from tests.integration.nbcache_support import delete_keys, make_settings

MakeCache = Callable[..., NetBoxGetCache]


@pytest.fixture
def make_nbcache() -> Iterator[MakeCache]:
    """Build NetBox GET caches, each on its own key prefix; closed and deleted afterwards.

    Keyword arguments are ``Settings`` overrides; pass ``redis_prefix`` to share one.
    """
    made: list[tuple[NetBoxGetCache, Settings]] = []

    def build(**overrides: Any) -> NetBoxGetCache:
        settings = make_settings(**overrides)
        cache = NetBoxGetCache.from_settings(settings)
        made.append((cache, settings))
        return cache

    yield build
    for cache, settings in made:
        cache.close()
        delete_keys(settings)


@pytest.fixture
def nbcache(make_nbcache: MakeCache) -> NetBoxGetCache:
    return make_nbcache()

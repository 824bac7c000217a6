"""The gateway's cache routes on a tiny Starlette app with the real Redis."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from gateway.routes.cache import routes
from shared.netbox.cache import NetBoxGetCache
from shared.netbox.cache_metrics import PROMETHEUS_CONTENT_TYPE
from shared.redis_client import async_client
from shared.settings import Settings
from tests.integration.nbcache_support import NETBOX_A, cached, fill, key

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@contextlib.asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.redis = async_client(settings)
        yield
        await app.state.redis.aclose()
        await app.state.redis.connection_pool.disconnect()

    app = Starlette(routes=routes, lifespan=lifespan)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield client


def some_traffic(cache: NetBoxGetCache) -> None:
    fill(cache, key("/api/dcim/devices/1/"), b"a" * 10)
    fill(cache, key("/api/dcim/devices/1/", netbox="https://netbox-b.example.com"), b"b" * 5)
    cached(cache, key("/api/dcim/devices/1/"))


async def test_cache_summary_reports_sizes_limits_and_rates(nbcache: NetBoxGetCache) -> None:
    some_traffic(nbcache)
    async with gateway(nbcache.settings) as client:
        response = await client.get("/cache")

    assert response.status_code == 200
    body = response.json()
    assert (body["entries"], body["bytes"], body["hits"], body["misses"]) == (2, 15, 1, 2)
    assert body["hit_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert body["limits"] == {"max_entries": 4096, "max_bytes": 52428800, "ttl_seconds": 60}
    assert body["evictions"] == {"ttl": 0, "entries": 0, "bytes": 0}
    assert body["invalidations"] == {"entries": 0, "requests": 0}
    assert 0 <= body["oldest_entry_age_seconds"] < 5


async def test_flat_metrics_and_prometheus_text(nbcache: NetBoxGetCache) -> None:
    some_traffic(nbcache)
    async with gateway(nbcache.settings) as client:
        flat = (await client.get("/cache/metrics")).json()
        prometheus = await client.get("/cache/metrics/prometheus")

    assert flat["entries"] == 2 and flat["hits"] == 1 and flat["max_bytes"] == 52428800
    assert all(not isinstance(value, dict) for value in flat.values())
    assert prometheus.headers["content-type"] == PROMETHEUS_CONTENT_TYPE
    text = prometheus.text
    assert "proxbox_cache_hits_total 1.0" in text
    assert 'proxbox_cache_evictions_total{cause="bytes"} 0.0' in text
    assert "proxbox_cache_entries 2.0" in text
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    assert names and all(name.startswith("proxbox_cache_") for name in names)


async def test_clear_one_endpoint_by_query_or_body_then_all(nbcache: NetBoxGetCache) -> None:
    some_traffic(nbcache)
    async with gateway(nbcache.settings) as client:
        by_query = await client.post("/clear-cache", params={"endpoint": NETBOX_A})
        assert by_query.json() == {"cleared": 1, "endpoint": "https://netbox-a.example.com:443"}
        fill(nbcache, key("/api/dcim/devices/1/"), b"a" * 10)
        by_body = await client.post("/clear-cache", json={"endpoint": NETBOX_A + "/api/"})
        assert by_body.json()["cleared"] == 1
        everything = await client.post("/clear-cache")

    assert everything.status_code == 200
    assert everything.json() == {"cleared": 1, "endpoint": "all"}
    assert nbcache.stats().entries == 0


@pytest.mark.parametrize(
    ("request_options", "named"),
    [
        ({"params": {"endpoint": "ftp://netbox"}}, "endpoint"),
        ({"params": {"endpoint": ""}}, "endpoint"),
        ({"json": {"endpoint": 5}}, "endpoint"),
        ({"json": {"endpont": NETBOX_A}}, "endpont"),
        ({"json": ["x"]}, "JSON object"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, "JSON"),
        ({"params": {"endpoint": NETBOX_A}, "json": {"endpoint": "https://other"}}, "both"),
    ],
)
async def test_bad_clear_requests_are_4xx_naming_the_problem(
    nbcache: NetBoxGetCache, request_options: dict[str, object], named: str
) -> None:
    some_traffic(nbcache)
    async with gateway(nbcache.settings) as client:
        response = await client.post("/clear-cache", **request_options)  # type: ignore[arg-type]

    assert 400 <= response.status_code < 500
    assert named in response.json()["detail"]
    assert nbcache.stats().entries == 2


async def test_redis_down_is_a_503_with_a_reason(nbcache: NetBoxGetCache) -> None:
    broken = nbcache.settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with gateway(broken) as client:
        response = await client.get("/cache")
        cleared = await client.post("/clear-cache")
    assert response.status_code == cleared.status_code == 503
    assert "Redis" in response.json()["detail"]

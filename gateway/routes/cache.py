"""Observability and control of the shared NetBox GET cache.

``GET /cache``, ``GET /cache/metrics``, ``GET /cache/metrics/prometheus`` and
``POST /clear-cache``. They run the cache's own Lua scripts through the gateway's
``redis.asyncio`` client (``app.state.redis``), so the numbers are the global ones
every worker writes. Authentication is the app's middleware, not these routes'.
"""

from __future__ import annotations

import json
from typing import Any

import redis
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.errors import error_response
from shared.errors import ValidationFailed
from shared.keys import Keys
from shared.netbox import cache_scripts
from shared.netbox.cache import FILL_HORIZON_S, PURGE_BATCH
from shared.netbox.cache_keys import endpoint_id, endpoint_origin
from shared.netbox.cache_metrics import (
    PROMETHEUS_CONTENT_TYPE,
    CacheStats,
    parse_stats,
    render_prometheus,
)
from shared.settings import Settings

_REDIS_DOWN = "the NetBox GET cache's Redis does not answer"


async def _read_stats(request: Request) -> CacheStats:
    settings: Settings = request.app.state.settings
    client = request.app.state.redis
    script = client.register_script(cache_scripts.STATS)
    raw = await script(keys=[Keys(settings.redis_prefix).nbcache], args=[PURGE_BATCH * 32])
    return parse_stats(raw, settings)


async def cache_summary(request: Request) -> Response:
    try:
        stats = await _read_stats(request)
    except (redis.RedisError, OSError) as exc:
        return error_response(503, f"{_REDIS_DOWN}: {exc}")
    return JSONResponse(stats.summary())


async def cache_metrics(request: Request) -> Response:
    try:
        stats = await _read_stats(request)
    except (redis.RedisError, OSError) as exc:
        return error_response(503, f"{_REDIS_DOWN}: {exc}")
    return JSONResponse(stats.flat())


async def cache_metrics_prometheus(request: Request) -> Response:
    try:
        stats = await _read_stats(request)
    except (redis.RedisError, OSError) as exc:
        return Response(f"# {_REDIS_DOWN}: {exc}\n", status_code=503, media_type="text/plain")
    return Response(render_prometheus(stats), headers={"Content-Type": PROMETHEUS_CONTENT_TYPE})


async def _requested_endpoint(request: Request) -> str | None:
    """The NetBox URL to clear (``?endpoint=`` or JSON ``{"endpoint": ...}``); None = all.

    Raises ``ValidationFailed`` naming what is wrong.
    """
    from_query = request.query_params.get("endpoint")
    body = await request.body()
    from_body: Any = None
    if body.strip():
        try:
            document = json.loads(body)
        except ValueError:
            raise ValidationFailed("body: not valid JSON") from None
        if not isinstance(document, dict):
            raise ValidationFailed('body: expected a JSON object like {"endpoint": "https://..."}')
        unknown = sorted(set(document) - {"endpoint"})
        if unknown:
            raise ValidationFailed(f"body: unknown field(s) {', '.join(unknown)}")
        from_body = document.get("endpoint")
        if from_body is not None and not isinstance(from_body, str):
            raise ValidationFailed("endpoint: must be a string URL")
    if from_query is not None and from_body is not None and from_query != from_body:
        raise ValidationFailed("endpoint: given both in the query and the body, differently")
    chosen: str | None = from_query if from_query is not None else from_body
    if chosen is None:
        return None
    try:
        endpoint_origin(chosen)
    except ValidationFailed as exc:
        raise ValidationFailed(f"endpoint: {exc}") from None
    return chosen


async def clear_cache(request: Request) -> Response:
    try:
        endpoint_url = await _requested_endpoint(request)
    except ValidationFailed as exc:
        return error_response(422, str(exc))
    settings: Settings = request.app.state.settings
    client = request.app.state.redis
    script = client.register_script(cache_scripts.CLEAR)
    target = "" if endpoint_url is None else endpoint_id(endpoint_url)
    try:
        dropped = await script(
            keys=[Keys(settings.redis_prefix).nbcache], args=[target, FILL_HORIZON_S]
        )
    except (redis.RedisError, OSError) as exc:
        return error_response(503, f"{_REDIS_DOWN}: {exc}")
    scope = endpoint_origin(endpoint_url) if endpoint_url else "all"
    return JSONResponse({"cleared": int(dropped), "endpoint": scope})


routes: list[BaseRoute] = [
    Route("/cache", cache_summary, methods=["GET"]),
    Route("/cache/metrics", cache_metrics, methods=["GET"]),
    Route("/cache/metrics/prometheus", cache_metrics_prometheus, methods=["GET"]),
    Route("/clear-cache", clear_cache, methods=["POST"]),
]

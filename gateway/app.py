"""The gateway application factory: ``create_app(settings)``.

Run with ``proxbox-mq gateway`` (uvicorn, factory mode). The gateway validates,
authorises, records and enqueues; it never syncs inline.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from gateway.apikey_store import ApiKeyStore
from gateway.auth import ApiKeyMiddleware, Throttle
from gateway.errors import exception_handlers
from gateway.hub import ProgressHub
from gateway.intake import EndpointLookup
from gateway.metrics import GatewayMetrics, MetricsMiddleware
from gateway.poller import Poller
from gateway.routes import (
    admin,
    auth,
    cache,
    docs,
    events,
    meta,
    metrics,
    netbox,
    proxmox,
    runs,
    schedules,
    stage_streams,
    streams,
    websockets,
)
from gateway.run_desk import RunDesk
from gateway.scheduler import Scheduler
from shared.apikeys import KeyHasher
from shared.broker import build_broker
from shared.crypto import SecretBox
from shared.db.engine import build_engine, build_sessionmaker
from shared.keys import Keys
from shared.logs import configure_logging
from shared.redis_client import async_client, sync_client
from shared.settings import Settings, get_settings

#: Redis connections one gateway process keeps at most, and how long a command waits for one.
REDIS_POOL_SIZE = 64
REDIS_POOL_WAIT_S = 5.0


def all_routes() -> list[BaseRoute]:
    return [
        *meta.routes, *docs.routes, *metrics.routes, *auth.routes, *netbox.routes,
        *proxmox.routes, *admin.routes, *runs.routes, *streams.routes, *websockets.routes,
        *cache.routes, *events.routes, *schedules.routes, *stage_streams.routes,
    ]  # fmt: skip


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    routes = all_routes()
    gateway_metrics = GatewayMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Secrets and the pepper first: a wrong key fails the start, not the first request.
        secrets = SecretBox.from_settings(settings)
        hasher = KeyHasher.from_settings(settings)
        engine = build_engine(settings)
        sessions = build_sessionmaker(engine)
        # Hundreds of streams may replay at once: wait for a pooled connection, never fail.
        redis = async_client(settings, max_connections=REDIS_POOL_SIZE, pool_wait_s=REDIS_POOL_WAIT_S)
        listener = async_client(settings, blocking=True)  # pub/sub waits longer than any timeout
        ledger_redis = sync_client(settings)
        # The gateway publishes user commands: confirm delivery so 202 means "queued".
        broker = build_broker(settings, confirm_delivery=True)
        keys = Keys(settings.redis_prefix)
        hub = ProgressHub(listener, keys, queue_size=settings.stream_client_queue)
        desk = RunDesk(settings, sessions, ledger_redis, broker)
        state = app.state
        state.settings, state.engine, state.sessions = settings, engine, sessions
        state.redis, state.broker, state.keys = redis, broker, keys
        state.secrets, state.hub, state.runs, state.metrics = secrets, hub, desk, gateway_metrics
        state.api_keys = ApiKeyStore(sessions, hasher, settings.api_key_cache_ttl_s)
        state.throttle = Throttle(redis, keys, settings)
        scheduler = Scheduler(sessions, redis, keys, desk, settings.scheduler_tick_s)
        poller = Poller(sessions, redis, keys, desk, secrets, settings.poll_interval_s or 1,
                        settings.poll_config_budget)  # fmt: skip
        state.scheduler, state.poller = scheduler, poller
        state.endpoint_lookup = EndpointLookup(sessions)
        hub.start()
        if settings.scheduler_enabled:
            scheduler.start()
        if settings.poll_interval_s:
            poller.start()
        try:
            yield
        finally:
            await poller.stop()
            await scheduler.stop()
            await hub.stop()
            desk.close()
            broker.close()
            ledger_redis.close()
            await listener.aclose()
            await redis.aclose()
            engine.dispose()

    return Starlette(
        routes=routes,
        middleware=[
            Middleware(MetricsMiddleware, metrics=gateway_metrics),
            Middleware(ApiKeyMiddleware, routes=routes),
        ],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )


def main_app() -> Starlette:
    """uvicorn factory entry point (configures logging from settings first)."""
    settings = get_settings()
    configure_logging(settings)
    return create_app(settings)

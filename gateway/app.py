"""The gateway application factory: ``create_app(settings)``.

Run with ``proxbox-mq gateway`` (uvicorn, factory mode).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from gateway.errors import exception_handlers
from gateway.routes import meta
from shared.broker import build_broker
from shared.db.engine import build_engine, build_sessionmaker
from shared.logs import configure_logging
from shared.redis_client import async_client
from shared.settings import Settings, get_settings


def all_routes() -> list[BaseRoute]:
    return [*meta.routes]


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = build_engine(settings)
        redis = async_client(settings)
        # The gateway publishes user commands: confirm delivery so 202 means "queued".
        broker = build_broker(settings, confirm_delivery=True)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = build_sessionmaker(engine)
        app.state.redis = redis
        app.state.broker = broker
        try:
            yield
        finally:
            broker.close()
            await redis.aclose()
            engine.dispose()

    return Starlette(
        routes=all_routes(),
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )


def main_app() -> Starlette:
    """uvicorn factory entry point (configures logging from settings first)."""
    settings = get_settings()
    configure_logging(settings)
    return create_app(settings)

"""The one place Redis clients are built.

redis-py 8 gives every connection a 5 s ``socket_timeout`` by default, which turns
any blocking read (XREAD BLOCK, BLPOP, dramatiq's rate-limiter waits) of 5 s or
more into ``TimeoutError``. Passing ``socket_timeout`` next to ``url=`` is dropped
when the URL builds the pool, so we build the pool from the URL ourselves and
choose the timeout per use: short for request/response, none for blocking readers.
"""

from __future__ import annotations

import redis
import redis.asyncio as aioredis

from shared.settings import Settings

#: Timeout for ordinary commands: a cache GET must fail open fast.
COMMAND_TIMEOUT_S = 2.0
#: Connect timeout for every client.
CONNECT_TIMEOUT_S = 2.0


def sync_client(settings: Settings, *, blocking: bool = False) -> redis.Redis:
    """A redis-py client. ``blocking=True`` removes the socket timeout (XREAD BLOCK etc.)."""
    pool = redis.ConnectionPool.from_url(
        settings.redis_url,
        socket_timeout=None if blocking else COMMAND_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        health_check_interval=30,
    )
    return redis.Redis.from_pool(pool)  # the client owns the pool: close() disconnects it


def async_client(
    settings: Settings,
    *,
    blocking: bool = False,
    max_connections: int | None = None,
    pool_wait_s: float | None = None,
) -> aioredis.Redis:
    """An asyncio client for the gateway; same timeout rules as :func:`sync_client`.

    redis-py's async pool raises ``MaxConnectionsError`` once ``max_connections``
    (default 100) are busy; with ``pool_wait_s`` a command waits that long for a
    free connection instead (the gateway: hundreds of streams may start at once).
    """
    options: dict[str, object] = {
        "socket_timeout": None if blocking else COMMAND_TIMEOUT_S,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "health_check_interval": 30,
    }
    if max_connections is not None:
        options["max_connections"] = max_connections
    pool: aioredis.ConnectionPool
    if pool_wait_s is not None:
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.redis_url, timeout=pool_wait_s, **options
        )
    else:
        pool = aioredis.ConnectionPool.from_url(settings.redis_url, **options)
    return aioredis.Redis.from_pool(pool)


def reply_text(value: object) -> str:
    """A Redis reply (bytes, or str from a decoding client, or a number) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)

"""API-key authentication: a pure-ASGI middleware (Starlette 1.x: no BaseHTTPMiddleware).

Every HTTP route but the public few needs ``X-Proxbox-API-Key``. A 401 body says
"API key" (the netbox-proxbox plugin re-checks its key only then). A client that
sends too many wrong keys within a window gets 429 with ``Retry-After`` for every
keyed request until the window ends, so guessing cannot go on. WebSockets pass
through: they authenticate with their first frame (:func:`authenticate_key`).
Paths that match no route pass through too, so unknown URLs stay a plain 404.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.apikey_store import ApiKeyStore
from gateway.errors import error_response
from shared.errors import AuthError, TooManyRequests
from shared.keys import Keys
from shared.settings import Settings

logger = logging.getLogger(__name__)

HEADER = "x-proxbox-api-key"
PUBLIC_PATHS = frozenset(
    {"/", "/health", "/version", "/openapi.json", "/docs", "/auth/bootstrap-status",
     "/auth/register-key"}
)  # fmt: skip

#: Routes that authenticate themselves (an API key *or* a per-endpoint hook signature).
SELF_AUTHENTICATED_PATHS = frozenset({"/events/proxmox"})

MISSING_KEY = "API key required: send it in the X-Proxbox-API-Key header"
WRONG_KEY = "Invalid API key"

# INCR the failure counter; the first failure of a window starts its expiry.
_RECORD_FAILURE_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class Throttle:
    """Failed-key counters per client, in Redis so every gateway process sees them."""

    def __init__(self, redis: Redis, keys: Keys, settings: Settings) -> None:
        self._redis = redis
        self._keys = keys
        self._max = settings.auth_max_failures
        self._window = settings.auth_failure_window_s
        self._record = redis.register_script(_RECORD_FAILURE_LUA)

    async def retry_after(self, client: str) -> int | None:
        """Seconds until this client may try again, or None when it is not throttled."""
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.get(self._keys.auth_failures(client))
            pipe.ttl(self._keys.auth_failures(client))
            count, ttl = await pipe.execute()
        except (RedisError, OSError) as exc:
            # Fail open: the key check itself still runs against the database.
            logger.warning("auth throttle unavailable (Redis): %s", exc)
            return None
        if count is not None and int(count) >= self._max:
            return max(1, int(ttl))
        return None

    async def record_failure(self, client: str) -> None:
        try:
            await self._record(keys=[self._keys.auth_failures(client)], args=[self._window])
        except (RedisError, OSError) as exc:
            logger.warning("auth throttle unavailable (Redis): %s", exc)


def client_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def authenticate_key(
    store: ApiKeyStore, throttle: Throttle, client: str, key: str | None
) -> None:
    """Raise ``AuthError`` (401) or ``TooManyRequests`` (429); return when the key is good."""
    if not key:
        raise AuthError(MISSING_KEY)
    key_hash = store.hash(key)
    if store.recently_accepted(key_hash):
        return
    wait = await throttle.retry_after(client)
    if wait is not None:
        raise TooManyRequests(
            f"too many invalid API keys from this client; retry in {wait} s", retry_after=wait
        )
    if await run_in_threadpool(store.verify_hash, key_hash):
        return
    await throttle.record_failure(client)
    raise AuthError(WRONG_KEY)


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    @staticmethod
    def _exempt(path: str) -> bool:
        return path in PUBLIC_PATHS or path in SELF_AUTHENTICATED_PATHS

    def _is_routed(self, scope: Scope) -> bool:
        routed = False
        for route in self.routes:
            match = route.matches(scope)[0]
            if match is Match.FULL:
                scope.setdefault("route", route)  # metrics label refused requests by route too
                return True
            routed = routed or match is Match.PARTIAL
        return routed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._exempt(scope["path"]) or not self._is_routed(scope):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        key = None
        for name, value in scope["headers"]:
            if name == HEADER.encode():
                key = value.decode("latin-1").strip()
                break
        try:
            await authenticate_key(state.api_keys, state.throttle, client_of(scope), key)
        except TooManyRequests as exc:
            response = error_response(429, str(exc), {"Retry-After": str(exc.retry_after)})
            await response(scope, receive, send)
            return
        except AuthError as exc:
            await error_response(401, str(exc))(scope, receive, send)
            return
        await self.app(scope, receive, send)

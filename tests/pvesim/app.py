"""The ASGI application of one simulated endpoint.

Request path, outermost first (all pure ASGI, no BaseHTTPMiddleware):

1. ReasonPhraseMiddleware - error text into the HTTP status line;
2. PveGateway - what pveproxy does before a handler runs: `/_sim` control
   API bypass, request counting, injected latency/faults, `HEAD` refusal,
   authentication + CSRF, and proxying to `/nodes/{node}/...` (595/596 when
   the node is offline);
3. the Starlette router with the API handlers (unknown path/method -> 501).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount

from . import routes_cluster, routes_guests, routes_nodes
from .auth import PUBLIC, authenticate
from .envelope import PveError, error_response
from .reason_phrase import ReasonPhraseMiddleware, install
from .routes_control import control_app
from .runtime import ClusterRuntime

API_PREFIX = "/api2/json"
NODE_PATH = re.compile(r"^/nodes/([^/]+)/")
OFFLINE_TEXT = {595: "No route to host", 596: "Connection timed out"}


def _api_path(scope: dict[str, Any]) -> str:
    return str(scope["path"])[len(API_PREFIX):] or "/"


class PveGateway:
    def __init__(self, rt: ClusterRuntime, api: Any, control: Any) -> None:
        self.rt = rt
        self.api = api
        self.control = control

    def _with_message(self) -> bool:
        return self.rt.cluster.at_least(8, 4)

    async def _fail(self, err: PveError, scope: Any, receive: Any, send: Any) -> None:
        await error_response(err, self._with_message())(scope, receive, send)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.api(scope, receive, send)  # lifespan
            return
        path: str = scope["path"]
        if path.startswith("/_sim"):
            await self.control(scope, receive, send)
            return
        method: str = scope["method"]
        if not path.startswith(API_PREFIX + "/"):
            await self._fail(PveError(501, f"Method '{method} {path}' not implemented"),
                             scope, receive, send)
            return
        api_path = _api_path(scope)
        rt = self.rt
        rt.counter.hit(method, api_path)
        if method == "HEAD":
            await self._fail(PveError(501, "method 'HEAD' not available"), scope, receive, send)
            return
        delay, rule = rt.faults.pick(method, api_path)
        if delay:
            await asyncio.sleep(delay)
        if rule is not None:
            await self._fail(PveError(rule.status, rule.message), scope, receive, send)
            return
        if (method, api_path) not in PUBLIC:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            try:
                scope["pvesim.identity"] = authenticate(rt.cluster, rt.secret, method, headers)
            except PveError as err:
                if rt.settings.auth_failure_delay:
                    await asyncio.sleep(rt.settings.auth_failure_delay)
                await self._fail(err, scope, receive, send)
                return
        match = NODE_PATH.match(api_path)
        node = rt.cluster.nodes.get(match.group(1)) if match else None
        if node is not None and not node.online:
            # pveproxy cannot reach the node it has to proxy this call to.
            if node.offline_delay:
                await asyncio.sleep(node.offline_delay)
            status = node.offline_status
            await self._fail(PveError(status, OFFLINE_TEXT.get(status, "Connection refused")),
                             scope, receive, send)
            return
        await self.api(scope, receive, send)


def _not_implemented(request: Request, exc: Exception) -> Response:
    path = request.url.path.removeprefix(API_PREFIX)
    err = PveError(501, f"Method '{request.method} {path}' not implemented")
    return error_response(err, request.app.state.rt.cluster.at_least(8, 4))


def _pve_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PveError)
    return error_response(exc, request.app.state.rt.cluster.at_least(8, 4))


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (404, 405):
        return _not_implemented(request, exc)
    return error_response(PveError(exc.status_code, str(exc.detail)), True)


def build_app(rt: ClusterRuntime) -> Any:
    install()
    api = Starlette(
        routes=[Mount(API_PREFIX, routes=routes_cluster.ROUTES + routes_nodes.ROUTES
                      + routes_guests.ROUTES)],
        exception_handlers={PveError: _pve_error, HTTPException: _http_error},
    )
    api.state.rt = rt
    control = control_app(rt)
    return ReasonPhraseMiddleware(PveGateway(rt, api, control))

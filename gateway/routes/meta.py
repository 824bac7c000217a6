"""``/``, ``/health`` and ``/version``: public, what the plugin probes first."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from gateway.health import check_readiness
from shared import __version__

#: What the gateway can do beyond proxbox-api's surface; the plugin reads ws_run_id.
CAPABILITIES = {"ws_run_id": 1, "runs": 1, "sse_resume": 1}


async def root(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "message": "Proxbox Backend (proxbox-mq): Proxmox VE to NetBox sync gateway",
            "version": __version__,
            "docs": "/docs",
        }
    )


async def health(request: Request) -> JSONResponse:
    state = request.app.state
    readiness = await check_readiness(state.settings, state.engine, state.redis)
    if readiness.ready:
        return JSONResponse({"status": "ready", "init_ok": True})
    return JSONResponse(
        {"status": "unavailable", "init_ok": False, "down": readiness.problems},
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def version(request: Request) -> JSONResponse:
    return JSONResponse({"version": __version__, "capabilities": CAPABILITIES})


routes: list[BaseRoute] = [
    Route("/", root, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
    Route("/version", version, methods=["GET"]),
]

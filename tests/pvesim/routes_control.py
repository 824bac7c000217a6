"""The `/_sim/...` control API: the in-process handle's mutations, over HTTP.

Real Proxmox never serves `/_sim`, so a client under test cannot hit it by
accident. No authentication: the simulator only listens on loopback.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .envelope import PveError
from .faults import FaultRule
from .runtime import ClusterRuntime


def control_app(rt: ClusterRuntime) -> Starlette:
    async def body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        return json.loads(raw) if raw else {}

    async def state(request: Request) -> Response:
        rt.advance()
        c = rt.cluster
        return JSONResponse({
            "cluster": c.name, "version": c.version, "standalone": c.standalone,
            "generation": c.generation, "guests": len(c.guests),
            "nodes": {n.name: {"online": n.online} for n in c.nodes.values()},
            "running_tasks": [t.upid for t in rt.tasks.running()],
            "hooks_sent": rt.hooks.sent,
        })

    async def counts(request: Request) -> Response:
        if request.method == "DELETE":
            rt.counter.reset()
        return JSONResponse({"total": rt.counter.total, "paths": rt.counter.snapshot()})

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            rule = rt.faults.add(FaultRule(**await body(request)))
            return JSONResponse(rule.as_dict(), status_code=201)
        if request.method == "DELETE":
            rt.faults.clear()
        return JSONResponse([r.as_dict() for r in rt.faults.rules()])

    async def fault_delete(request: Request) -> Response:
        rt.faults.remove(int(request.path_params["rule_id"]))
        return Response(status_code=204)

    async def latency(request: Request) -> Response:
        rt.faults.latency = float((await body(request)).get("seconds", 0.0))
        return JSONResponse({"seconds": rt.faults.latency})

    async def settings(request: Request) -> Response:
        for key, value in (await body(request)).items():
            if not hasattr(rt.settings, key):
                return JSONResponse({"error": f"unknown setting {key}"}, status_code=400)
            setattr(rt.settings, key, float(value))
        return JSONResponse(vars(rt.settings))

    async def hooks(request: Request) -> Response:
        rt.hooks.url = (await body(request)).get("url")
        return JSONResponse({"url": rt.hooks.url})

    async def guests(request: Request) -> Response:
        guest = rt.add_guest(**await body(request))
        return JSONResponse({"vmid": guest.vmid, "node": guest.node}, status_code=201)

    async def guest(request: Request) -> Response:
        vmid = int(request.path_params["vmid"])
        if request.method == "DELETE":
            rt.remove_guest(vmid)
            return Response(status_code=204)
        changed = rt.update_guest(vmid, **await body(request))
        return JSONResponse({"vmid": changed.vmid, "node": changed.node, "name": changed.name,
                             "status": changed.status})

    async def guest_ip(request: Request) -> Response:
        data = await body(request)
        rt.set_guest_ip(int(request.path_params["vmid"]), data["ip"], int(data.get("nic", 0)),
                        data.get("ip6"))
        return Response(status_code=204)

    async def node_state(request: Request) -> Response:
        data = await body(request)
        online = request.path_params["state"] == "online"
        rt.set_node_online(request.path_params["node"], online,
                           status=int(data.get("status", 595)),
                           delay=float(data.get("delay", 0.0)),
                           rrd_expired=bool(data.get("rrd_expired", False)))
        return Response(status_code=204)

    async def fail_next(request: Request) -> Response:
        data = await body(request)
        rt.tasks.fail_next.setdefault(data.get("type", "*"), []).append(data["message"])
        return Response(status_code=204)

    async def pve_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PveError)
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    return Starlette(
        routes=[
            Route("/_sim/state", state, methods=["GET"]),
            Route("/_sim/counts", counts, methods=["GET", "DELETE"]),
            Route("/_sim/faults", faults, methods=["GET", "POST", "DELETE"]),
            Route("/_sim/faults/{rule_id:int}", fault_delete, methods=["DELETE"]),
            Route("/_sim/latency", latency, methods=["PUT"]),
            Route("/_sim/settings", settings, methods=["PUT"]),
            Route("/_sim/hooks", hooks, methods=["PUT"]),
            Route("/_sim/guests", guests, methods=["POST"]),
            Route("/_sim/guests/{vmid:int}", guest, methods=["PATCH", "DELETE"]),
            Route("/_sim/guests/{vmid:int}/ip", guest_ip, methods=["POST"]),
            Route("/_sim/nodes/{node}/{state}", node_state, methods=["POST"]),
            Route("/_sim/tasks/fail-next", fail_next, methods=["POST"]),
        ],
        exception_handlers={PveError: pve_error},
    )

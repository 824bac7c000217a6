"""Shared plumbing for API handlers: the `api` decorator, permission and lookup helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .auth import Identity
from .envelope import PveError, ok
from .estate import Guest, Node
from .params import read_params
from .runtime import ClusterRuntime

Handler = Callable[[Request, ClusterRuntime, dict[str, Any]], Any]


def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a synchronous handler: parse params, finish due tasks, hold the estate lock,
    and put a plain return value into the `{"data": ...}` envelope."""

    async def endpoint(request: Request) -> Response:
        rt: ClusterRuntime = request.app.state.rt
        params = await read_params(request)
        params.update(request.path_params)
        with rt.cluster.lock:
            rt.tasks.advance()
            result = handler(request, rt, params)
        if isinstance(result, Response):
            return result
        return ok(request, result)

    endpoint.__name__ = handler.__name__
    return endpoint


def identity(request: Request) -> Identity:
    ident: Identity = request.scope["pvesim.identity"]
    return ident


def require(request: Request, acl_path: str, priv: str, *alternatives: str) -> Identity:
    ident = identity(request)
    if not any(ident.has(p) for p in (priv, *alternatives)):
        raise PveError(403, f"Permission check failed ({acl_path}, {priv})")
    return ident


def node_of(rt: ClusterRuntime, name: str) -> Node:
    node = rt.cluster.nodes.get(name)
    if node is None:
        # pveproxy cannot resolve the node to proxy to.
        raise PveError(500, f"hostname lookup '{name}' failed - failed to get address info for: "
                            f"{name}: Name or service not known")
    return node


def guest_of(rt: ClusterRuntime, node: str, vmid: int, kind: str) -> Guest:
    """The guest on exactly that node; anywhere else PVE finds no config file."""
    node_of(rt, node)
    guest = rt.cluster.guests.get(vmid)
    if guest is None or guest.node != node or guest.kind != kind:
        where = "qemu-server" if kind == "qemu" else "lxc"
        raise PveError(500, f"Configuration file 'nodes/{node}/{where}/{vmid}.conf' does not exist")
    return guest


def vm_priv(request: Request, guest: Guest, priv: str, *alternatives: str) -> Identity:
    return require(request, f"/vms/{guest.vmid}", priv, *alternatives)

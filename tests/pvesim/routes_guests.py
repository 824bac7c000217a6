"""QEMU and LXC endpoints under /nodes/{node}/{qemu|lxc}: reads and operations."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from . import operations as ops
from .config_edit import apply_config_change, check_config_change
from .envelope import PveError
from .render_config import guest_config
from .render_guests import (
    agent_interfaces,
    list_entry,
    lxc_interfaces,
    snapshot_list,
    status_current,
)
from .routes_common import Handler, api, guest_of, identity, node_of, vm_priv
from .runtime import ClusterRuntime


def _guest(rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    return guest_of(rt, params["node"], int(params["vmid"]), params["kind"])


def _require_quorum(rt: ClusterRuntime) -> None:
    nodes = rt.cluster.nodes.values()
    if not rt.cluster.standalone and sum(n.online for n in nodes) * 2 <= len(rt.cluster.nodes):
        raise PveError(500, "cluster not ready - no quorum?")


def guest_list(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    node = node_of(rt, params["node"])
    if not identity(request).has("VM.Audit"):
        return []  # filtered, not refused
    now = time.time()
    guests = sorted(rt.cluster.guests_on(node.name, params["kind"]), key=lambda g: g.vmid)
    return [list_entry(rt.cluster, g, now) for g in guests]


def guest_index(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    guest = _guest(rt, params)
    vm_priv(request, guest, "VM.Audit")
    subdirs = ["config", "status", "snapshot", "migrate", "firewall", "rrd", "rrddata"]
    subdirs += ["agent"] if guest.kind == "qemu" else ["interfaces"]
    return [{"subdir": s} for s in subdirs]


def config_get(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    guest = _guest(rt, params)
    vm_priv(request, guest, "VM.Audit")
    return guest_config(rt.cluster, guest)


def config_put(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    """Synchronous (returns null, no task): detect it via the changed `digest`."""
    guest = _guest(rt, params)
    _require_quorum(rt)
    check_config_change(rt, identity(request), guest, params)
    apply_config_change(rt, guest, params)
    return None


def config_post(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    """The asynchronous variant: a `qmconfig` task applies the change."""
    guest = _guest(rt, params)
    _require_quorum(rt)
    ident = identity(request)
    check_config_change(rt, ident, guest, params)
    vmid = guest.vmid

    def run(task: Any) -> str | None:
        live = rt.cluster.guests.get(vmid)
        if live is None:
            return f"VM {vmid} does not exist"
        apply_config_change(rt, live, params)
        return None

    return rt.tasks.start(guest.node, "qmconfig", str(vmid), ident.userid, ident.tokenid,
                          rt.settings.task_duration / 2, run).upid


def status_get(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    guest = _guest(rt, params)
    vm_priv(request, guest, "VM.Audit")
    return status_current(rt.cluster, guest, time.time())


def status_index(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    guest = _guest(rt, params)
    vm_priv(request, guest, "VM.Audit")
    actions = ["current", "start", "stop", "shutdown", "reboot", "suspend", "resume"]
    return [{"subdir": a} for a in actions]


def power_action(action: str) -> Handler:
    def handler(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
        guest = _guest(rt, params)
        ident = vm_priv(request, guest, "VM.PowerMgmt")
        _require_quorum(rt)
        if guest.ha is not None and "overrule-shutdown" in params:
            raise PveError(400, "Not applicable for HA resources.")
        return ops.power(rt, ident, guest, action)

    handler.__name__ = f"power_{action}"
    return handler


def agent_network(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    guest = _guest(rt, params)
    if rt.cluster.at_least(9):
        vm_priv(request, guest, "VM.GuestAgent.Audit", "VM.GuestAgent.Unrestricted")
    else:
        vm_priv(request, guest, "VM.Monitor")
    if not guest.agent:
        raise PveError(500, "No QEMU guest agent configured")
    if not guest.running:
        raise PveError(500, f"VM {guest.vmid} is not running")
    if not guest.agent_running:
        raise PveError(500, "QEMU guest agent is not running")
    return agent_interfaces(guest)


def ct_interfaces(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    guest = _guest(rt, params)
    vm_priv(request, guest, "VM.Audit")
    return lxc_interfaces(rt.cluster, guest)


def snapshots_get(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    guest = _guest(rt, params)
    vm_priv(request, guest, "VM.Audit")
    return snapshot_list(rt.cluster, guest)


def snapshot_post(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    guest = _guest(rt, params)
    ident = vm_priv(request, guest, "VM.Snapshot")
    _require_quorum(rt)
    return ops.snapshot_create(rt, ident, guest, params)


def snapshot_delete(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    guest = _guest(rt, params)
    ident = vm_priv(request, guest, "VM.Snapshot")
    _require_quorum(rt)
    return ops.snapshot_delete(rt, ident, guest, params["snapname"])


def snapshot_rollback(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    guest = _guest(rt, params)
    ident = vm_priv(request, guest, "VM.Snapshot", "VM.Snapshot.Rollback")
    _require_quorum(rt)
    return ops.snapshot_rollback(rt, ident, guest, params["snapname"], params)


def migrate_precheck(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    guest = _guest(rt, params)
    vm_priv(request, guest, "VM.Migrate")
    online = [n for n in rt.cluster.online_node_names() if n != guest.node]
    local = [d for d in guest.disks if not rt.cluster.storages[d.storage].shared]
    if guest.kind == "lxc":  # pve-container spells these keys with dashes
        return {"running": int(guest.running), "allowed-nodes": online,
                "not-allowed-nodes": {}}
    out: dict[str, Any] = {"running": int(guest.running), "allowed_nodes": online,
                           "not_allowed_nodes": {}}
    out["local_disks"] = [{"volid": f"{d.storage}:{d.volname}", "size": 0, "cdrom": 0,
                           "is_unused": int(d.slot.startswith("unused"))} for d in local]
    out["local_resources"] = []
    out["mapped-resources"] = []  # PCI/USB resource mappings (none in a simulated estate)
    out["mapped-resource-info"] = {}
    if rt.cluster.at_least(9, 1):  # the dbus-vmstate helper arrived with 9.1
        out["has-dbus-vmstate"] = 0
    return out


def migrate_post(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    guest = _guest(rt, params)
    ident = vm_priv(request, guest, "VM.Migrate")
    _require_quorum(rt)
    return ops.migrate(rt, ident, guest, params)


def _bind(kind: str, handler: Handler) -> Any:
    def bound(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
        params["kind"] = kind
        return handler(request, rt, params)

    bound.__name__ = f"{handler.__name__}_{kind}"
    return api(bound)


def _routes_for(kind: str) -> list[Route]:
    base = f"/nodes/{{node}}/{kind}"
    vm = f"{base}/{{vmid:int}}"
    routes = [
        Route(base, _bind(kind, guest_list), methods=["GET"]),
        Route(vm, _bind(kind, guest_index), methods=["GET"]),
        Route(f"{vm}/config", _bind(kind, config_get), methods=["GET"]),
        Route(f"{vm}/config", _bind(kind, config_put), methods=["PUT"]),
        Route(f"{vm}/status", _bind(kind, status_index), methods=["GET"]),
        Route(f"{vm}/status/current", _bind(kind, status_get), methods=["GET"]),
        Route(f"{vm}/snapshot", _bind(kind, snapshots_get), methods=["GET"]),
        Route(f"{vm}/snapshot", _bind(kind, snapshot_post), methods=["POST"]),
        Route(f"{vm}/snapshot/{{snapname}}", _bind(kind, snapshot_delete), methods=["DELETE"]),
        Route(f"{vm}/snapshot/{{snapname}}/rollback", _bind(kind, snapshot_rollback),
              methods=["POST"]),
        Route(f"{vm}/migrate", _bind(kind, migrate_precheck), methods=["GET"]),
        Route(f"{vm}/migrate", _bind(kind, migrate_post), methods=["POST"]),
    ]
    for action in ("start", "stop", "shutdown", "reboot"):
        routes.append(Route(f"{vm}/status/{action}", _bind(kind, power_action(action)),
                            methods=["POST"]))
    if kind == "qemu":
        routes.append(Route(f"{vm}/config", _bind(kind, config_post), methods=["POST"]))
        routes.append(Route(f"{vm}/agent/network-get-interfaces", _bind(kind, agent_network),
                            methods=["GET"]))
    else:
        routes.append(Route(f"{vm}/interfaces", _bind(kind, ct_interfaces), methods=["GET"]))
    return routes


ROUTES = _routes_for("qemu") + _routes_for("lxc")

"""Per-node endpoints: status, network, storage, tasks, replication."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import render_cluster as rc
from .envelope import PveError, ok, param_error
from .params import boolean, enum, integer
from .routes_common import api, identity, node_of, require
from .runtime import ClusterRuntime
from .tasks import Task

IFACE_TYPES = ["bridge", "bond", "eth", "alias", "vlan", "fabric", "OVSBridge", "OVSBond",
               "OVSPort", "OVSIntPort", "vnet", "any_bridge", "any_local_bridge", "include_sdn"]


@api
def node_status(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    node = node_of(rt, params["node"])
    require(request, f"/nodes/{node.name}", "Sys.Audit")
    return rc.node_status(rt.cluster, node)


@api
def node_network(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    node = node_of(rt, params["node"])
    kind = enum(params, "type", IFACE_TYPES)
    rows = [dict(i.fields) for i in node.ifaces]
    if kind in ("any_bridge", "any_local_bridge"):
        return [r for r in rows if r["type"] in ("bridge", "OVSBridge")]
    if kind and kind != "include_sdn":
        return [r for r in rows if r["type"] == kind]
    return rows


@api
def node_storage(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    node = node_of(rt, params["node"])
    if not identity(request).has("Datastore.Audit"):
        return []
    return rc.node_storage_status(rt.cluster, node, params.get("content"))


@api
def storage_content(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    node = node_of(rt, params["node"])
    name = params["storage"]
    storage = rt.cluster.storages.get(name)
    if storage is None or node.name not in rt.cluster.storage_nodes(storage):
        raise PveError(500, f"storage '{name}' does not exist")
    require(request, f"/storage/{name}", "Datastore.Audit", "Datastore.AllocateSpace")
    content = enum(params, "content", ["backup", "images", "rootdir", "iso", "vztmpl",
                                       "snippets", "import"])
    return rc.storage_content(rt.cluster, storage, node.name, content, integer(params, "vmid"))


@api
def node_replication(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    node = node_of(rt, params["node"])
    guest = integer(params, "guest")
    out = []
    for job in rt.cluster.replication_jobs:
        if job["source"] != node.name or (guest is not None and job["guest"] != guest):
            continue
        vm = rt.cluster.guests.get(job["guest"])
        out.append({**job, "vmtype": vm.kind if vm else "qemu", "last_sync": 1746118800,
                    "last_try": 1746118800, "next_sync": 1746119100, "duration": 4.213702,
                    "fail_count": 0})
    return out


def _task_of(rt: ClusterRuntime, node: str, upid: str) -> Task:
    parts = upid.split(":")
    if len(parts) != 9 or parts[0] != "UPID":
        raise param_error({"upid": "unable to parse worker upid"})
    task = rt.tasks.tasks.get(upid)
    if task is None or task.node != node:
        raise param_error({"upid": "no such task"})
    return task


def _may_see(request: Request, task: Task, node: str, priv: str = "Sys.Audit") -> None:
    ident = identity(request)
    owner = task.user == ident.userid and task.tokenid == ident.tokenid
    if not owner and not ident.has(priv):
        raise PveError(403, f"Permission check failed (/nodes/{node}, {priv})")


@api
def node_tasks(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    node = node_of(rt, params["node"])
    ident = identity(request)
    source = enum(params, "source", ["archive", "active", "all"]) or "archive"
    start = integer(params, "start", 0, 0) or 0
    limit = integer(params, "limit", 50, 0)
    vmid = params.get("vmid")
    typefilter = params.get("typefilter")
    errors_only = boolean(params, "errors")
    since = integer(params, "since")
    tasks = [t for t in rt.tasks.tasks.values() if t.node == node.name]
    if source == "archive":
        tasks = [t for t in tasks if t.status == "stopped"]
    elif source == "active":
        tasks = [t for t in tasks if t.status == "running"]
    if not ident.has("Sys.Audit"):
        tasks = [t for t in tasks if t.user == ident.userid and t.tokenid == ident.tokenid]
    if vmid is not None:
        tasks = [t for t in tasks if t.id == str(vmid)]
    if typefilter:
        tasks = [t for t in tasks if t.type == typefilter]
    if errors_only:
        tasks = [t for t in tasks if t.exitstatus not in (None, "OK")]
    if since is not None:
        tasks = [t for t in tasks if t.starttime >= since]
    tasks.sort(key=lambda t: (t.endtime or 2**62, t.starttime), reverse=True)
    page = tasks[start:] if not limit else tasks[start:start + limit]
    return ok(request, [t.list_entry(cluster_view=False) for t in page], total=len(tasks))


@api
def task_status(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    node = node_of(rt, params["node"])
    task = _task_of(rt, node.name, params["upid"])
    _may_see(request, task, node.name)
    return task.status_object()


@api
def task_log(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    node = node_of(rt, params["node"])
    task = _task_of(rt, node.name, params["upid"])
    _may_see(request, task, node.name)
    if boolean(params, "download"):
        return Response("\n".join(task.log) + "\n", media_type="text/plain")
    start = integer(params, "start", 0, 0) or 0
    limit = integer(params, "limit", 50, 0)
    lines = task.log or ["no content"]
    chosen = lines[start:] if not limit else lines[start:start + limit]
    data = [{"n": start + i + 1, "t": text} for i, text in enumerate(chosen)]
    return ok(request, data, total=len(lines))


@api
def task_stop(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    node = node_of(rt, params["node"])
    task = _task_of(rt, node.name, params["upid"])
    _may_see(request, task, node.name, "Sys.Modify")
    rt.tasks.interrupt(task)
    return None


ROUTES = [
    Route("/nodes/{node}/status", node_status, methods=["GET"]),
    Route("/nodes/{node}/network", node_network, methods=["GET"]),
    Route("/nodes/{node}/storage", node_storage, methods=["GET"]),
    Route("/nodes/{node}/storage/{storage}/content", storage_content, methods=["GET"]),
    Route("/nodes/{node}/replication", node_replication, methods=["GET"]),
    Route("/nodes/{node}/tasks", node_tasks, methods=["GET"]),
    Route("/nodes/{node}/tasks/{upid}", task_stop, methods=["DELETE"]),
    Route("/nodes/{node}/tasks/{upid}/status", task_status, methods=["GET"]),
    Route("/nodes/{node}/tasks/{upid}/log", task_log, methods=["GET"]),
]

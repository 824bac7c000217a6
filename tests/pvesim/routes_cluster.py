"""Datacenter-wide endpoints: access, version, cluster/*, nodes index, storage, pools, HA."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from . import render_cluster as rc
from .auth import issue_ticket, login
from .envelope import PveError, accepts_gzip, body_response
from .params import enum, required
from .privileges import cap_object
from .routes_common import api, identity, require
from .runtime import ClusterRuntime


@api
def access_ticket(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    if request.method == "GET":
        return None  # only there so the GUI login form has something to load
    if request.headers.get("authorization", "").startswith("PVEAPIToken"):
        raise PveError(403, "Permission check failed (URI '/access/ticket' not available with "
                            "API token, need proper ticket.)")
    ident = login(rt.cluster, rt.secret, required(params, "username"),
                  required(params, "password"), params.get("realm"))
    ticket, csrf = issue_ticket(rt.secret, ident.userid)
    data: dict[str, Any] = {"username": ident.userid, "ticket": ticket,
                            "CSRFPreventionToken": csrf, "cap": cap_object(ident.privs)}
    if ident.has("Sys.Audit") and not rt.cluster.standalone:
        data["clustername"] = rt.cluster.name
    return data


@api
def access_domains(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    return [{"realm": "pam", "type": "pam", "comment": "Linux PAM standard authentication"},
            {"realm": "pve", "type": "pve", "comment": "Proxmox VE authentication server"}]


@api
def version(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    return rc.version(rt.cluster)


@api
def cluster_status(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    require(request, "/", "Sys.Audit")
    return rc.cluster_status(rt.cluster, rt.local_node)


@api
def cluster_resources(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    kind = enum(params, "type", ["vm", "storage", "node", "sdn"])
    # Filtered by ACL, not refused: a token without VM.Audit sees no guests at all.
    see_guests = identity(request).has("VM.Audit")
    body, gz = rt.resources_body(kind, see_guests, gzipped=accepts_gzip(request))
    return body_response(body, request, gz)


@api
def cluster_tasks(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    ident = identity(request)
    tasks = sorted(rt.tasks.tasks.values(), key=lambda t: t.starttime, reverse=True)
    if not ident.has("Sys.Audit"):
        tasks = [t for t in tasks if t.user == ident.userid and t.tokenid == ident.tokenid]
    return [t.list_entry(cluster_view=True) for t in tasks]


@api
def cluster_backup(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    require(request, "/", "Sys.Audit")
    return rt.cluster.backup_jobs


@api
def cluster_replication(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    return rt.cluster.replication_jobs if identity(request).has("VM.Audit") else []


@api
def nodes_index(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    rows = [rc.node_row(rt.cluster, n, for_resources=False) for n in rt.cluster.nodes.values()]
    if not identity(request).has("Sys.Audit"):
        keep = ("id", "type", "node", "status", "level", "ssl_fingerprint")
        rows = [{k: v for k, v in r.items() if k in keep} for r in rows]
    return rows


@api
def storage_index(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    return rc.storage_config(rt.cluster) if identity(request).has("Datastore.Audit") else []


@api
def pools(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    if not identity(request).has("Pool.Audit"):
        return []
    poolid = params.get("poolid")
    if poolid is None:
        return [{"poolid": p, **({"comment": c} if c else {})} for p, c in rt.cluster.pools.items()]
    if poolid not in rt.cluster.pools:
        raise PveError(500, f"pool '{poolid}' does not exist")
    comment = rt.cluster.pools[poolid]
    rows = rc.resources(rt.cluster, "vm", True, time.time())
    members = [r for r in rows if r.get("pool") == poolid]
    out: dict[str, Any] = {"poolid": poolid, "members": members}
    if comment:
        out["comment"] = comment
    return [out]


@api
def ha_resources(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    require(request, "/", "Sys.Audit")
    return rc.ha_resources(rt.cluster, enum(params, "type", ["vm", "ct"]))


@api
def ha_status(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    require(request, "/", "Sys.Audit")
    return rc.ha_status(rt.cluster, rt.local_node)


@api
def ha_groups(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    require(request, "/", "Sys.Audit")
    if rt.cluster.at_least(9):
        raise PveError(500, "cannot index groups: ha groups have been migrated to rules")
    return [{"group": name, "type": "group", **cfg, "digest": "5f21" + "0" * 36}
            for name, cfg in rt.cluster.ha_groups.items()]


@api
def ha_rules(request: Request, rt: ClusterRuntime, params: dict[str, Any]) -> Any:
    require(request, "/", "Sys.Audit")
    if not rt.cluster.at_least(9):
        method, path = request.method, request.url.path.removeprefix("/api2/json")
        raise PveError(501, f"Method '{method} {path}' not implemented")
    kind = enum(params, "type", ["node-affinity", "resource-affinity"])
    rules = [r for r in rt.cluster.ha_rules if kind is None or r["type"] == kind]
    if "resource" in params:
        rules = [r for r in rules if params["resource"] in str(r["resources"]).split(",")]
    return [{**r, "digest": "a71c" + "0" * 36} for r in rules]


ROUTES = [
    Route("/access/ticket", access_ticket, methods=["GET", "POST"]),
    Route("/access/domains", access_domains, methods=["GET"]),
    Route("/version", version, methods=["GET"]),
    Route("/cluster/status", cluster_status, methods=["GET"]),
    Route("/cluster/resources", cluster_resources, methods=["GET"]),
    Route("/cluster/tasks", cluster_tasks, methods=["GET"]),
    Route("/cluster/backup", cluster_backup, methods=["GET"]),
    Route("/cluster/replication", cluster_replication, methods=["GET"]),
    Route("/cluster/ha/resources", ha_resources, methods=["GET"]),
    Route("/cluster/ha/status/current", ha_status, methods=["GET"]),
    Route("/cluster/ha/groups", ha_groups, methods=["GET"]),
    Route("/cluster/ha/rules", ha_rules, methods=["GET"]),
    Route("/nodes", nodes_index, methods=["GET"]),
    Route("/storage", storage_index, methods=["GET"]),
    Route("/pools", pools, methods=["GET"]),
]

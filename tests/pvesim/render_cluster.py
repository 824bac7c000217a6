"""Cluster, node, storage, pool and HA views."""

from __future__ import annotations

import time
from collections.abc import Iterable
from operator import attrgetter
from typing import Any

from .estate import Cluster, Guest, Node, Storage
from .render_config import digest_of, size_bytes
from .render_guests import ha_state, live_stats, resource_row


def version(cluster: Cluster) -> dict[str, Any]:
    major_minor = ".".join(cluster.version.split(".")[:2])
    return {"version": cluster.version, "release": major_minor, "repoid": cluster.repoid}


def cluster_status(cluster: Cluster, local_node: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if not cluster.standalone:
        online = sum(1 for n in cluster.nodes.values() if n.online)
        rows.append({"type": "cluster", "id": "cluster", "name": cluster.name,
                     "nodes": len(cluster.nodes), "quorate": int(online * 2 > len(cluster.nodes)),
                     "version": cluster.corosync_version})
    for node in cluster.nodes.values():
        rows.append({"type": "node", "id": f"node/{node.name}", "name": node.name,
                     "nodeid": node.nodeid, "ip": node.ip, "local": int(node.name == local_node),
                     "online": int(node.online), "level": node.level if node.online else ""})
    return rows


def running_mib(guests: Iterable[Guest]) -> dict[str, int]:
    """MiB of memory of the running guests, per node (one pass over the guests)."""
    used: dict[str, int] = {}
    for g in guests:
        if g.status == "running":  # Guest.running, inlined: this runs over 10k guests
            used[g.node] = used.get(g.node, 0) + g.memory_mib
    return used


def node_stats(node: Node, cluster: Cluster, used_mib: dict[str, int] | None = None) -> dict[str, Any]:
    used = (used_mib if used_mib is not None else running_mib(cluster.guests.values())).get(node.name, 0) << 20
    return {"cpu": round(0.02 + (node.nodeid % 7) / 100, 4), "maxcpu": node.maxcpu,
            "mem": min(used + (8 << 30), node.maxmem), "maxmem": node.maxmem,
            "disk": 9876543210, "maxdisk": node.maxdisk,
            "uptime": int(time.time() - node.booted_at)}


def node_row(cluster: Cluster, node: Node, *, for_resources: bool,
             used_mib: dict[str, int] | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"id": f"node/{node.name}", "type": "node", "node": node.name,
                           "status": "online" if node.online else "offline"}
    if for_resources and node.online:
        row["cgroup-mode"] = 2
    row["level"] = node.level if node.online else ""
    if for_resources and cluster.at_least(8, 3) and not cluster.standalone:
        row["hastate"] = ("maintenance" if node.maintenance else "online") if node.online else "unknown"
    if node.online:
        row.update(node_stats(node, cluster, used_mib))
    else:
        row.update({"maxcpu": node.maxcpu, "maxmem": node.maxmem, "maxdisk": node.maxdisk})
    if not for_resources:
        row["ssl_fingerprint"] = node.ssl_fingerprint
    return row


def storage_row(cluster: Cluster, storage: Storage, node: Node) -> dict[str, Any]:
    row: dict[str, Any] = {"id": f"storage/{node.name}/{storage.storage}", "type": "storage",
                           "storage": storage.storage, "node": node.name,
                           "plugintype": storage.type,
                           "status": "available" if node.online else "unknown",
                           "shared": int(storage.shared), "content": ",".join(storage.content)}
    if node.online:
        row.update({"disk": storage.used, "maxdisk": storage.total})
    return row


def pool_rows(cluster: Cluster, running: list[tuple[Guest, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The `pool` rows from `running`: (guest, live_stats) of the running guests, by vmid."""
    members: dict[str, list[tuple[Guest, dict[str, Any]]]] = {p: [] for p in cluster.pools}
    for g, stats in running:
        if g.pool is not None and g.pool in members:
            members[g.pool].append((g, stats))
    rows: list[dict[str, Any]] = []
    for poolid in sorted(cluster.pools):
        pool = members[poolid]
        rows.append({"id": f"/pool/{poolid}", "type": "pool", "pool": poolid,
                     "uptime": max((s["uptime"] for _, s in pool), default=0),
                     "cpu": round(sum(s["cpu"] for _, s in pool), 6),
                     "maxcpu": sum(g.cores for g, _ in pool),
                     "mem": sum(s["mem"] for _, s in pool),
                     "maxmem": sum(s["maxmem"] for _, s in pool)})
    return rows


def infra_rows(cluster: Cluster, kind: str | None,
               used_mib: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """The rows after the guests: nodes, storages, SDN zones (`used_mib`: `running_mib`)."""
    rows: list[dict[str, Any]] = []
    if kind in (None, "node"):
        used = used_mib if used_mib is not None else running_mib(cluster.guests.values())
        rows.extend(node_row(cluster, n, for_resources=True, used_mib=used)
                    for n in cluster.nodes.values())
    if kind in (None, "storage"):
        for storage in cluster.storages.values():
            for name in cluster.storage_nodes(storage):
                rows.append(storage_row(cluster, storage, cluster.nodes[name]))
    if kind in (None, "sdn"):
        for node in cluster.nodes.values():
            rows.append({"id": f"sdn/{node.name}/localnetwork", "type": "sdn",
                         "sdn": "localnetwork", "node": node.name,
                         "status": "ok" if node.online else "unknown"})
    return rows


def sorted_guests(cluster: Cluster, see_guests: bool) -> list[Guest]:
    return sorted(cluster.guests.values(), key=attrgetter("vmid")) if see_guests else []


def resources(cluster: Cluster, kind: str | None, see_guests: bool, now: float) -> list[dict[str, Any]]:
    """`/cluster/resources` (ResourcesCache builds the same answer incrementally)."""
    guests = sorted_guests(cluster, see_guests)
    running = [(g, live_stats(g, now)) for g in guests if g.running]
    rows = pool_rows(cluster, running) if kind is None else []
    if kind in (None, "vm"):
        rows.extend(resource_row(cluster, g, now) for g in guests)
    return rows + infra_rows(cluster, kind)


def node_status(cluster: Cluster, node: Node) -> dict[str, Any]:
    stats = node_stats(node, cluster)
    kernel = "6.14.8-2-pve" if cluster.at_least(9) else "6.8.12-4-pve"
    build = "#1 SMP PREEMPT_DYNAMIC PMX 6.14.8-2 (2025-07-22T10:04Z)"
    return {
        "uptime": stats["uptime"], "idle": 0,
        "loadavg": ["0.41", "0.38", "0.35"],  # strings, as PVE sends them
        "kversion": f"Linux {kernel} {build}",
        "current-kernel": {"sysname": "Linux", "release": kernel, "version": build,
                           "machine": "x86_64"},
        "boot-info": {"mode": "efi", "secureboot": 0},
        "cpuinfo": {"model": node.cpu_model, "sockets": 1, "cpus": node.maxcpu,
                    "cores": node.maxcpu // 2, "hvm": "1", "mhz": "2794.748", "user_hz": 100,
                    "flags": "fpu vme de pse tsc msr pae mce cx8 apic"},
        "cpu": stats["cpu"], "wait": 0.0009,
        "memory": {"total": node.maxmem, "used": stats["mem"],
                   "free": node.maxmem - stats["mem"], "available": node.maxmem - stats["mem"]},
        "ksm": {"shared": 0},
        "swap": {"total": 8589930496, "used": 0, "free": 8589930496},
        "pveversion": f"pve-manager/{cluster.version}/{cluster.repoid}",
        "rootfs": {"total": node.maxdisk, "used": 9876543210,
                   "avail": node.maxdisk - 9876543210 - 5 * (1 << 30),
                   "free": node.maxdisk - 9876543210},
    }


def storage_config(cluster: Cluster) -> list[dict[str, Any]]:
    out = []
    for storage in cluster.storages.values():
        row: dict[str, Any] = {"storage": storage.storage, "type": storage.type,
                               "content": ",".join(storage.content), **storage.props}
        if storage.shared:
            row["shared"] = 1
        if storage.nodes is not None:
            row["nodes"] = ",".join(storage.nodes)
        out.append(row)
    digest = digest_of({"storage": out})
    return [{**row, "digest": digest} for row in out]


def node_storage_status(cluster: Cluster, node: Node, content: str | None) -> list[dict[str, Any]]:
    out = []
    for storage in cluster.storages.values():
        if node.name not in cluster.storage_nodes(storage):
            continue
        if content and not set(content.split(",")) & set(storage.content):
            continue
        out.append({"storage": storage.storage, "type": storage.type,
                    "content": ",".join(storage.content), "active": 1, "enabled": 1,
                    "shared": int(storage.shared), "total": storage.total, "used": storage.used,
                    "avail": storage.total - storage.used,
                    "used_fraction": round(storage.used / storage.total, 7)})
    return out


def storage_content(cluster: Cluster, storage: Storage, node: str, content: str | None,
                    vmid: int | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if content in (None, "backup"):
        for b in cluster.backups:
            if b.storage != storage.storage or (b.node and b.node != node):
                continue
            if vmid is not None and b.vmid != vmid:
                continue
            item: dict[str, Any] = {"volid": b.volid(storage.type), "content": "backup",
                                    "ctime": b.ctime, "size": b.size, "vmid": b.vmid,
                                    "subtype": b.kind}
            if storage.type == "pbs":
                item["format"] = "pbs-vm" if b.kind == "qemu" else "pbs-ct"
                item["verification"] = {"state": "ok", "upid": "UPID:pbs01:000009C2:00A1F3B4:"
                                        "6813B0F1:verificationjob:store1:root@pam:"}
            else:
                item["format"] = "vma.zst" if b.kind == "qemu" else "tar.zst"
            if b.notes:
                item["notes"] = b.notes
            if b.protected:
                item["protected"] = 1
            out.append(item)
    if content in (None, "images", "rootdir"):
        for g in sorted(cluster.guests.values(), key=lambda g: g.vmid):
            for d in g.disks:
                if d.storage != storage.storage or (not storage.shared and g.node != node):
                    continue
                kind = "rootdir" if g.kind == "lxc" else "images"
                if content not in (None, kind) or (vmid is not None and g.vmid != vmid):
                    continue
                out.append({"volid": f"{d.storage}:{d.volname}", "content": kind,
                            "format": "raw", "size": size_bytes(d.size), "vmid": g.vmid,
                            "ctime": 1735689600})
    return out


def ha_resources(cluster: Cluster, kind: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    nine = cluster.at_least(9)
    for g in sorted(cluster.guests.values(), key=lambda g: g.vmid):
        if g.ha is None or (kind and g.sid.split(":")[0] != kind):
            continue
        row: dict[str, Any] = {"sid": g.sid, "type": g.sid.split(":")[0], "state": g.ha.state}
        if nine:
            row["failback"] = int(g.ha.failback)
        elif g.ha.group:
            row["group"] = g.ha.group
        row.update({"max_restart": g.ha.max_restart, "max_relocate": g.ha.max_relocate})
        if g.ha.comment:
            row["comment"] = g.ha.comment
        out.append(row)
    digest = digest_of({"ha": out})
    return [{**row, "digest": digest} for row in out]


def ha_status(cluster: Cluster, local_node: str) -> list[dict[str, Any]]:
    now = int(time.time())
    stamp = time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(now))
    quorate = sum(n.online for n in cluster.nodes.values()) * 2 > len(cluster.nodes)
    rows: list[dict[str, Any]] = [{"id": "quorum", "type": "quorum", "node": local_node,
                                   "status": "OK" if quorate else f"No quorum on node '{local_node}'!",
                                   "quorate": int(quorate)}]
    managed = [g for g in cluster.guests.values() if g.ha]
    if not managed:
        return rows
    master = next((n for n in cluster.nodes.values() if n.online), None)
    watchdog = cluster.at_least(9, 1)
    if master:
        rows.append({"id": "master", "type": "master", "node": master.name,
                     "status": f"{master.name} (active, {stamp})", "timestamp": now})
        if watchdog:
            rows.append({"id": "fencing", "type": "fencing", "node": master.name,
                         "status": "armed (CRM watchdog active)", "armed-state": "armed"})
    for node in cluster.nodes.values():
        busy = any(g.node == node.name for g in managed)
        state = ("active" if busy else "idle") if node.online else "old timestamp - dead?"
        wd = (", watchdog active" if busy else ", watchdog standby") if watchdog else ""
        rows.append({"id": f"lrm:{node.name}", "type": "lrm", "node": node.name,
                     "status": f"{node.name} ({state}{wd}, {stamp})", "timestamp": now})
    for g in sorted(managed, key=lambda g: g.sid):
        assert g.ha is not None
        state = ha_state(g) or "started"
        if not cluster.nodes[g.node].online:
            state = "fence"
        row: dict[str, Any] = {"id": f"service:{g.sid}", "type": "service", "sid": g.sid,
                               "node": g.node, "crm_state": state, "state": state,
                               "status": f"{g.sid} ({g.node}, {state})",
                               "request_state": g.ha.state,
                               "max_restart": g.ha.max_restart, "max_relocate": g.ha.max_relocate}
        if cluster.at_least(9):
            row["failback"] = int(g.ha.failback)
        elif g.ha.group:
            row["group"] = g.ha.group
        if g.ha.comment:
            row["comment"] = g.ha.comment
        rows.append(row)
    return rows

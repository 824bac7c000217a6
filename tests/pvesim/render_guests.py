"""Guest runtime views: list entries, resources rows, status, agent and LXC interfaces."""

from __future__ import annotations

import time
from typing import Any

from .addressing import link_local_for
from .estate import Cluster, Guest, Nic
from .render_config import boot_disk, guest_config, size_bytes

MIB = 1 << 20


def live_stats(guest: Guest, now: float | None = None) -> dict[str, Any]:
    """Deterministic counters: a pure function of vmid and uptime."""
    maxmem = guest.memory_mib * MIB
    if not guest.running:
        return {"uptime": 0, "cpu": 0, "mem": 0, "netin": 0, "netout": 0,
                "diskread": 0, "diskwrite": 0, "maxmem": maxmem}
    uptime = max(1, int((now or time.time()) - guest.started_at))
    rate = guest.vmid % 97 + 1
    return {
        "uptime": uptime,
        "cpu": round((guest.vmid * 37 % 100) / 1000 + 0.0012, 6),
        "mem": maxmem * (30 + guest.vmid % 50) // 100,
        "netin": uptime * rate * 1000,
        "netout": uptime * rate * 400,
        "diskread": uptime * rate * 2000,
        "diskwrite": uptime * rate * 3000,
        "maxmem": maxmem,
    }


def maxdisk(guest: Guest) -> int:
    disk = boot_disk(guest)
    return size_bytes(disk.size) if disk else 0


def ha_state(guest: Guest) -> str | None:
    """`hastate` as the CRM reports it for a managed guest."""
    if guest.ha is None:
        return None
    if guest.ha.state in ("disabled", "ignored"):
        return guest.ha.state
    return "started" if guest.running else "stopped"


def resource_row(cluster: Cluster, guest: Guest, now: float) -> dict[str, Any]:
    node = cluster.nodes.get(guest.node)
    row: dict[str, Any] = {"id": f"{guest.kind}/{guest.vmid}", "type": guest.kind,
                           "vmid": guest.vmid, "node": guest.node}
    if node is not None and not node.online and node.rrd_expired:
        row["status"] = "unknown"  # RRD row expired: no name, no stats
        return row
    stats = live_stats(guest, now)
    row.update({"name": guest.name, "status": guest.status, "template": int(guest.template),
                "uptime": stats["uptime"], "cpu": stats["cpu"], "maxcpu": guest.cores * guest.sockets,
                "mem": stats["mem"], "maxmem": stats["maxmem"]})
    if guest.kind == "qemu" and cluster.at_least(9):
        row["memhost"] = stats["mem"] + (stats["mem"] // 14 if stats["mem"] else 0)
    row.update({"disk": 0 if guest.kind == "qemu" else maxdisk(guest) // 6,
                "maxdisk": maxdisk(guest), "netin": stats["netin"], "netout": stats["netout"],
                "diskread": stats["diskread"], "diskwrite": stats["diskwrite"]})
    if guest.pool:
        row["pool"] = guest.pool
    if guest.tags:
        row["tags"] = ";".join(guest.tags)
    if guest.lock:
        row["lock"] = guest.lock
    hastate = ha_state(guest)
    if hastate:
        row["hastate"] = hastate
    return row


MOVING_STATS = ("uptime", "cpu", "mem", "netin", "netout", "diskread", "diskwrite")


def refresh_stats(row: dict[str, Any], stats: dict[str, Any]) -> dict[str, Any]:
    """A copy of `row` (from `resource_row`) with new `stats` (from `live_stats` for the same
    guest): what a pvestatd cycle changes. Equal to `resource_row` at the new time."""
    if "uptime" not in row:  # an expired RRD row has no stats
        return row
    out = dict(row)
    for key in MOVING_STATS:
        out[key] = stats[key]
    if "memhost" in out:
        out["memhost"] = stats["mem"] + (stats["mem"] // 14 if stats["mem"] else 0)
    return out


def list_entry(cluster: Cluster, guest: Guest, now: float) -> dict[str, Any]:
    """`GET /nodes/{node}/qemu` and `.../lxc` items."""
    stats = live_stats(guest, now)
    entry: dict[str, Any] = {"vmid": guest.vmid, "name": guest.name, "status": guest.status}
    if guest.kind == "lxc":
        entry["type"] = "lxc"
        if not cluster.at_least(8, 2):
            entry["vmid"] = str(guest.vmid)  # a string before pve-container 5.0.10
    if guest.running:
        entry["pid"] = guest.pid
    entry.update({"uptime": stats["uptime"], "cpu": stats["cpu"], "cpus": guest.cores * guest.sockets,
                  "mem": stats["mem"], "maxmem": stats["maxmem"],
                  "disk": 0 if guest.kind == "qemu" else maxdisk(guest) // 6,
                  "maxdisk": maxdisk(guest), "netin": stats["netin"], "netout": stats["netout"],
                  "diskread": stats["diskread"], "diskwrite": stats["diskwrite"]})
    if guest.kind == "qemu":
        if cluster.at_least(9):
            entry["memhost"] = stats["mem"]
        entry["serial"] = 1
        if guest.running:
            entry["qmpstatus"] = "running"
    else:
        entry["swap"] = 0
        entry["maxswap"] = guest.swap_mib * MIB
    if guest.template:
        entry["template"] = 1
    if guest.tags:
        entry["tags"] = ";".join(guest.tags)
    if guest.lock:
        entry["lock"] = guest.lock
    return entry


def status_current(cluster: Cluster, guest: Guest, now: float) -> dict[str, Any]:
    out = list_entry(cluster, guest, now)
    out["vmid"] = guest.vmid
    out["ha"] = {"managed": 1, "state": guest.ha.state} if guest.ha else {"managed": 0}
    if guest.kind == "qemu":
        out["qmpstatus"] = guest.status
        if guest.agent:
            out["agent"] = 1
        if guest.running:
            out["running-machine"] = "pc-q35-9.2+pve1" if guest.machine else "pc-i440fx-9.2+pve1"
            out["running-qemu"] = "9.2.0"
            out["balloon"] = out["maxmem"]
            out["nics"] = {f"tap{guest.vmid}i{n.index}": {"netin": 0, "netout": 0}
                           for n in guest.nics}
    return out


def _guest_addresses(nic: Nic) -> list[tuple[str, str, int]]:
    """(family, address, prefix) a running guest really has on this NIC."""
    out: list[tuple[str, str, int]] = []
    v4 = nic.dhcp_lease if nic.ipv4 == "dhcp" else nic.ipv4
    if v4:
        addr, _, prefix = v4.partition("/")
        out.append(("4", addr, int(prefix or 24)))
    if nic.ipv6 and nic.ipv6 not in ("auto", "dhcp", "manual"):
        addr, _, prefix = nic.ipv6.partition("/")
        out.append(("6", addr, int(prefix or 64)))
    out.append(("6", link_local_for(nic.mac), 64))
    return out


def agent_interfaces(guest: Guest) -> dict[str, Any]:
    """qemu-ga `guest-network-get-interfaces`: lower-case MACs, `ipv4`/`ipv6` families."""
    result: list[dict[str, Any]] = [{
        "name": "lo", "hardware-address": "00:00:00:00:00:00",
        "ip-addresses": [
            {"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8},
            {"ip-address-type": "ipv6", "ip-address": "::1", "prefix": 128},
        ],
        "statistics": _nic_stats(0),
    }]
    windows = guest.ostype.startswith("win")
    for nic in guest.nics:
        if nic.link_down:
            continue
        name = f"Ethernet {nic.index + 1}" if windows else f"ens{18 + nic.index}"
        result.append({
            "name": name, "hardware-address": nic.mac.lower(),
            "ip-addresses": [
                {"ip-address-type": "ipv" + fam, "ip-address": addr, "prefix": prefix}
                for fam, addr, prefix in _guest_addresses(nic)
            ],
            "statistics": _nic_stats(guest.vmid + nic.index),
        })
    return {"result": result}


def _nic_stats(seed: int) -> dict[str, int]:
    return {"rx-bytes": 12345 + seed * 1000, "rx-packets": 150 + seed, "rx-errs": 0,
            "rx-dropped": 0, "tx-bytes": 12345 + seed * 400, "tx-packets": 150 + seed,
            "tx-errs": 0, "tx-dropped": 0}


def lxc_interfaces(cluster: Cluster, guest: Guest) -> list[dict[str, Any]] | None:
    """`GET .../lxc/{vmid}/interfaces`; `inet`/`inet6` families, null when stopped."""
    if not guest.running:
        return None
    rows = [("lo", "00:00:00:00:00:00", [("4", "127.0.0.1", 8), ("6", "::1", 128)])]
    for nic in guest.nics:
        rows.append((nic.guest_ifname, nic.mac.lower(), _guest_addresses(nic)))
    out: list[dict[str, Any]] = []
    for name, mac, addrs in rows:
        item: dict[str, Any] = {"name": name, "hwaddr": mac}
        v4 = [f"{a}/{p}" for fam, a, p in addrs if fam == "4"]
        v6 = [f"{a}/{p}" for fam, a, p in addrs if fam == "6"]
        if v4:
            item["inet"] = v4[-1]  # the legacy keys keep only the last address
        if v6:
            item["inet6"] = v6[-1]
        if cluster.at_least(8, 4):
            item["hardware-address"] = mac
            item["ip-addresses"] = [
                {"ip-address": a, "ip-address-type": "inet" if fam == "4" else "inet6",
                 "prefix": p} for fam, a, p in addrs
            ]
        out.append(item)
    return out


def snapshot_list(cluster: Cluster, guest: Guest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for snap in guest.snapshots:
        item: dict[str, Any] = {"name": snap.name, "description": snap.description,
                                "snaptime": snap.snaptime}
        if guest.kind == "qemu":
            item["vmstate"] = int(snap.vmstate)
        if snap.parent:
            item["parent"] = snap.parent
        out.append(item)
    current: dict[str, Any] = {"name": "current", "description": "You are here!",
                               "digest": guest_config(cluster, guest)["digest"],
                               "running": int(guest.running)}
    if guest.current_parent:
        current["parent"] = guest.current_parent
    out.append(current)
    return out

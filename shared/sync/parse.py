"""Lenient parsing of Proxmox answers into :mod:`shared.sync.models`.

Proxmox types drift between versions (``memory`` int in 8.0, string from 8.1;
LXC ``vmid`` a string before 8.2; 0/1 booleans). The predecessor validated
strictly and silently dropped guests whose payload did not fit (proxbox-api
#620); here a field that does not parse becomes ``None`` plus a warning, and the
guest is synced with what is known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from shared.sync.models import ClusterInfo, GuestConfig, GuestRef, NodeInfo

#: Config keys that hold guest disks (cdrom and unused volumes are not counted).
_DISK_KEY = re.compile(r"^(scsi|virtio|sata|ide|efidisk|tpmstate|rootfs|mp)\d*$")
_SIZE = re.compile(r"(?:^|,)size=(\d+(?:\.\d+)?)([KMGTP]?)(?:,|$)")
_UNIT_MB = {"": 1 / 1024 / 1024, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2, "P": 1024**3}


def as_int(value: Any) -> int | None:
    """An int from an int, a numeric string or a float; None for anything else."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("current="):
            text = text.split("=", 1)[1].split(",", 1)[0]
        try:
            return int(float(text))
        except ValueError:
            return None
    return None


def as_bool(value: Any) -> bool | None:
    number = as_int(value)
    return None if number is None else number != 0


def split_tags(raw: Any) -> tuple[str, ...]:
    """Proxmox tags ``"prod;web"`` (also ``,`` or space separated) -> sorted, unique."""
    if not isinstance(raw, str):
        return ()
    parts = re.split(r"[;, ]+", raw)
    return tuple(sorted({p.strip() for p in parts if p.strip()}, key=str.lower))


def parse_cluster_status(entries: Iterable[Mapping[str, Any]], fallback_name: str) -> ClusterInfo:
    """``/cluster/status``: a cluster entry plus node entries, or one node (standalone)."""
    cluster_name: str | None = None
    nodes: list[NodeInfo] = []
    for entry in entries:
        if entry.get("type") == "cluster":
            cluster_name = str(entry.get("name") or "") or None
        elif entry.get("type") == "node" and entry.get("name"):
            online = as_bool(entry.get("online"))
            nodes.append(
                NodeInfo(name=str(entry["name"]), online=online is not False, ip=entry.get("ip"))
            )
    nodes.sort(key=lambda node: node.name)
    if cluster_name is None:
        # Standalone: no cluster entry; the node is the cluster.
        name = nodes[0].name if len(nodes) == 1 else fallback_name
        return ClusterInfo(name=name, standalone=True, nodes=tuple(nodes))
    return ClusterInfo(name=cluster_name, standalone=False, nodes=tuple(nodes))


def parse_resource_guests(entries: Iterable[Mapping[str, Any]]) -> tuple[list[GuestRef], list[str]]:
    """Guests from ``/cluster/resources``; malformed entries become warnings, never drops."""
    guests: dict[str, GuestRef] = {}
    warnings: list[str] = []
    for entry in entries:
        kind = entry.get("type")
        if kind not in ("qemu", "lxc"):
            continue
        vmid = as_int(entry.get("vmid"))
        if vmid is None:
            vmid = as_int(str(entry.get("id", "")).rpartition("/")[2])
        node = entry.get("node")
        if vmid is None or not node:
            warnings.append(f"resource entry {entry.get('id')!r} has no vmid or node")
            continue
        ref = GuestRef(
            vmid=vmid,
            type=kind,
            node=str(node),
            name=str(entry["name"]) if entry.get("name") else None,
            status=str(entry.get("status") or "unknown"),
            template=bool(as_bool(entry.get("template"))),
            maxcpu=as_int(entry.get("maxcpu")),
            maxmem=as_int(entry.get("maxmem")),
            maxdisk=as_int(entry.get("maxdisk")),
            tags=split_tags(entry.get("tags")),
        )
        guests[ref.identity] = ref  # a guest listed twice (mid-migration) counts once
    return sorted(guests.values(), key=lambda g: (g.vmid, g.type)), warnings


def disk_size_mb(spec: Any) -> int | None:
    """``"ceph:vm-1-disk-0,size=32G"`` -> 32768; None for a cdrom or no size."""
    if not isinstance(spec, str) or "media=cdrom" in spec:
        return None
    match = _SIZE.search(spec)
    if match is None:
        return None
    return int(float(match.group(1)) * _UNIT_MB[match.group(2)])


def parse_guest_config(kind: str, config: Mapping[str, Any]) -> GuestConfig:
    """The fields a NetBox VM needs from ``/nodes/{n}/{qemu|lxc}/{vmid}/config``."""
    warnings: list[str] = []
    name = config.get("hostname" if kind == "lxc" else "name")
    memory = as_int(config.get("memory"))
    if config.get("memory") is not None and memory is None:
        warnings.append(f"memory {config.get('memory')!r} is not a number")
    return GuestConfig(
        name=str(name) if name else None,
        vcpus=_vcpus(kind, config, warnings),
        memory_mib=memory,
        disk_mb=_disk_total_mb(config, warnings),
        description=str(config["description"]) if config.get("description") else None,
        onboot=as_bool(config.get("onboot")),
        tags=split_tags(config.get("tags")) if "tags" in config else (),
        warnings=tuple(warnings),
    )


def _vcpus(kind: str, config: Mapping[str, Any], warnings: list[str]) -> int | None:
    if kind == "qemu" and as_int(config.get("vcpus")):
        return as_int(config.get("vcpus"))
    cores = as_int(config.get("cores"))
    if cores is None:
        if config.get("cores") is not None:
            warnings.append(f"cores {config.get('cores')!r} is not a number")
        return None
    sockets = as_int(config.get("sockets")) or 1 if kind == "qemu" else 1
    return cores * sockets


def _disk_total_mb(config: Mapping[str, Any], warnings: list[str]) -> int | None:
    total = 0
    found = False
    for key, value in config.items():
        if not _DISK_KEY.match(key):
            continue
        size = disk_size_mb(value)
        if size is None:
            if isinstance(value, str) and "media=cdrom" not in value:
                warnings.append(f"{key}: no size in {value!r}")
            continue
        total, found = total + size, True
    return total if found else None

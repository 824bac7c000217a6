"""What the simulator says a guest's NetBox details should be, and what NetBox holds."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx

_MB = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


def _canonical(cidr: str) -> str | None:
    iface = ipaddress.ip_interface(cidr if "/" in cidr else f"{cidr}/{'64' if ':' in cidr else '24'}")
    return None if iface.ip.is_link_local else str(iface)


def addresses_read(guest: Any) -> bool:
    """Whether a sync can know every address (agent answering, or LXC running)."""
    if guest.status != "running" or guest.template or not guest.nics:
        return False
    return guest.kind == "lxc" or (guest.agent and guest.agent_running)


def expected_ips(guest: Any) -> dict[str, str]:
    """``{cidr: netN}`` a first sync into an empty NetBox should create for this guest."""
    out: dict[str, str] = {}
    read = addresses_read(guest)
    for nic in guest.nics:
        if guest.kind == "qemu" and (not read or nic.link_down):
            continue
        v4 = nic.dhcp_lease if nic.ipv4 == "dhcp" else nic.ipv4
        v6 = nic.ipv6 if nic.ipv6 not in (None, "auto", "dhcp", "manual") else None
        if not read:  # a stopped LXC: only what its config says
            v4 = nic.ipv4 if nic.ipv4 != "dhcp" else None
        for cidr in (v4, v6):
            if cidr and (canonical := _canonical(cidr)):
                out[canonical] = f"net{nic.index}"
    return out


def expected_iface(nic: Any) -> dict[str, Any]:
    mode = "tagged" if nic.trunks else ("access" if nic.tag else None)
    return {"mac": nic.mac.upper(), "mode": mode, "untagged": nic.tag,
            "tagged": sorted(nic.trunks), "enabled": not nic.link_down}  # fmt: skip


def disk_mb(size: str) -> int:
    return int(float(size[:-1]) * _MB[size[-1]])


def expected_disks(guest: Any) -> dict[str, int]:
    return {d.slot: disk_mb(d.size) for d in guest.disks if not d.slot.startswith("unused")}


def every(nb: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 1000, "offset": 0, **params}
    while True:
        page = nb.get(path, params=query).json()
        found += page["results"]
        if not page.get("next"):
            return found
        query["offset"] += len(page["results"])


def actual_iface(iface: dict[str, Any]) -> dict[str, Any]:
    return {"mac": (iface.get("primary_mac_address") or {}).get("mac_address"),
            "mode": (iface.get("mode") or {}).get("value"),
            "untagged": (iface.get("untagged_vlan") or {}).get("vid"),
            "tagged": sorted(v["vid"] for v in iface.get("tagged_vlans") or []),
            "enabled": iface["enabled"]}  # fmt: skip


def netbox_details(nb: httpx.Client) -> dict[str, Any]:
    """Interfaces, disks and IPs by (VM id, name) / address."""
    ifaces = {(i["virtual_machine"]["id"], i["name"]): i for i in every(nb, "/virtualization/interfaces/")}
    disks = {(d["virtual_machine"]["id"], d["name"]): d["size"] for d in every(nb, "/virtualization/virtual-disks/")}
    ips = every(nb, "/ipam/ip-addresses/")
    return {"ifaces": ifaces, "disks": disks, "ips": ips}


def ip_home(ip: dict[str, Any]) -> tuple[int, str] | None:
    obj = ip.get("assigned_object")
    if not obj or ip.get("assigned_object_type") != "virtualization.vminterface":
        return None
    return obj["virtual_machine"]["id"], obj["name"]

"""Guest configs exactly as `GET .../config` returns them (property strings, digest, quirks)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .estate import Cluster, Disk, Guest, Nic

SIZE_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def size_bytes(size: str) -> int:
    unit = size[-1].upper()
    if unit in SIZE_UNITS:
        return int(float(size[:-1]) * SIZE_UNITS[unit])
    return int(size)


def _props(head: str, options: dict[str, str]) -> str:
    """`head,key=value,...` with keys sorted, as PVE's property-string printer does."""
    parts = [head] + [f"{k}={v}" for k, v in sorted(options.items())]
    return ",".join(parts)


def disk_string(disk: Disk) -> str:
    head = f"{disk.storage}:{disk.volname}"
    if disk.slot.startswith("unused"):
        return head
    options = {**disk.options, "size": disk.size}
    if disk.mountpoint is not None:  # LXC mpN: `mp=` comes right after the volume
        return _props(f"{head},mp={disk.mountpoint}", options)
    return _props(head, options)


def qemu_net_string(nic: Nic) -> str:
    options: dict[str, str] = {"bridge": nic.bridge}
    if nic.firewall:
        options["firewall"] = "1"
    if nic.link_down:
        options["link_down"] = "1"
    if nic.mtu:
        options["mtu"] = str(nic.mtu)
    if nic.tag is not None:
        options["tag"] = str(nic.tag)
    if nic.trunks:
        options["trunks"] = ";".join(str(t) for t in nic.trunks)
    return _props(f"{nic.model}={nic.mac}", options)


def lxc_net_string(nic: Nic) -> str:
    options: dict[str, str] = {"bridge": nic.bridge, "hwaddr": nic.mac, "type": "veth"}
    if nic.firewall:
        options["firewall"] = "1"
    if nic.ipv4:
        options["ip"] = nic.ipv4
    if nic.gw4 and nic.ipv4 != "dhcp":
        options["gw"] = nic.gw4
    if nic.ipv6:
        options["ip6"] = nic.ipv6
    if nic.gw6 and nic.ipv6 not in ("dhcp", "auto"):
        options["gw6"] = nic.gw6
    if nic.tag is not None:
        options["tag"] = str(nic.tag)
    if nic.trunks:
        options["trunks"] = ";".join(str(t) for t in nic.trunks)
    if nic.link_down:
        options["link_down"] = "1"
    if nic.mtu:
        options["mtu"] = str(nic.mtu)
    return _props(f"name={nic.guest_ifname}", options)


def boot_disk(guest: Guest) -> Disk | None:
    for disk in guest.disks:
        if disk.slot == "rootfs" or disk.slot[:4] in ("scsi", "virt", "sata") or (
            disk.slot.startswith("ide")
        ):
            return disk
    return None


def digest_of(config: dict[str, Any]) -> str:
    """sha1 of the config 'file'; changes whenever any key changes, like PVE's."""
    return hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()


def qemu_config(cluster: Cluster, guest: Guest) -> dict[str, Any]:
    cfg: dict[str, Any] = {"name": guest.name}
    if guest.description:
        cfg["description"] = guest.description
    if guest.tags:
        cfg["tags"] = ";".join(guest.tags)
    if guest.onboot:
        cfg["onboot"] = 1
    if guest.agent:
        cfg["agent"] = "1,fstrim_cloned_disks=1" if guest.vmid % 2 else "1"
    elif guest.vmid % 4 == 2:
        cfg["agent"] = "0"  # agent explicitly disabled; the rest simply have no key
    cfg["ostype"] = guest.ostype
    if guest.machine:
        cfg["machine"] = guest.machine
    if guest.bios != "seabios":
        cfg["bios"] = guest.bios
    cfg.update({"sockets": guest.sockets, "cores": guest.cores, "cpu": "x86-64-v2-AES", "numa": 0})
    # `memory` became a property string in PVE 8.1, so it is a JSON string since then.
    cfg["memory"] = str(guest.memory_mib) if cluster.at_least(8, 1) else guest.memory_mib
    if guest.balloon_mib is not None:
        cfg["balloon"] = guest.balloon_mib
    boot = boot_disk(guest)
    order = [boot.slot] if boot else []
    if guest.cdrom is not None:
        order.append("ide2")
    if guest.nics:
        order.append(f"net{guest.nics[0].index}")
    cfg["boot"] = "order=" + ";".join(order)
    cfg["scsihw"] = "virtio-scsi-single"
    for disk in guest.disks:
        cfg[disk.slot] = disk_string(disk)
    if guest.cdrom is not None:
        cfg["ide2"] = f"{guest.cdrom},media=cdrom" + (",size=628M" if guest.cdrom != "none" else "")
    for nic in guest.nics:
        cfg[f"net{nic.index}"] = qemu_net_string(nic)
        if guest.vmid % 2 == 0 and nic.ipv4 and nic.ipv4 != "dhcp":
            ipconfig = f"ip={nic.ipv4}" + (f",gw={nic.gw4}" if nic.gw4 else "")
            if nic.ipv6 and nic.ipv6 not in ("auto", "dhcp"):
                ipconfig += f",ip6={nic.ipv6}"
            cfg[f"ipconfig{nic.index}"] = ipconfig
    cfg["smbios1"] = f"uuid={guest.smbios_uuid}"
    cfg["vmgenid"] = guest.smbios_uuid[::-1].replace("-", "")[:8] + guest.smbios_uuid[8:]
    cfg["meta"] = "creation-qemu=9.2.0,ctime=1735689600"
    if guest.vmid % 10 == 3:
        cfg["cpulimit"] = "1.5"  # a schema 'number': PVE returns it as a string
    if guest.current_parent:
        cfg["parent"] = guest.current_parent
    if guest.lock:
        cfg["lock"] = guest.lock
    if guest.template:
        cfg["template"] = 1
    cfg.update(guest.extra_config)
    cfg["digest"] = digest_of(cfg)
    return cfg


def lxc_config(cluster: Cluster, guest: Guest) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "hostname": guest.name, "arch": "amd64", "ostype": guest.ostype,
        "cores": guest.cores, "memory": guest.memory_mib, "swap": guest.swap_mib,
    }
    if guest.unprivileged:
        cfg["unprivileged"] = 1
        cfg["features"] = "nesting=1"
    if guest.onboot:
        cfg["onboot"] = 1
    for disk in guest.disks:
        cfg[disk.slot] = disk_string(disk)
    for nic in guest.nics:
        cfg[f"net{nic.index}"] = lxc_net_string(nic)
    if guest.nameserver:
        cfg["nameserver"] = guest.nameserver
    if guest.searchdomain:
        cfg["searchdomain"] = guest.searchdomain
    if guest.tags:
        cfg["tags"] = ";".join(guest.tags)
    if guest.description:
        cfg["description"] = guest.description + "\n"
    if guest.current_parent:
        cfg["parent"] = guest.current_parent
    if guest.lock:
        cfg["lock"] = guest.lock
    if guest.template:
        cfg["template"] = 1
    cfg.update(guest.extra_config)
    cfg["digest"] = digest_of(cfg)
    return cfg


def guest_config(cluster: Cluster, guest: Guest) -> dict[str, Any]:
    return qemu_config(cluster, guest) if guest.kind == "qemu" else lxc_config(cluster, guest)

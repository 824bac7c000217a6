"""Nodes (with their /etc/network/interfaces) and storages of a generated cluster."""

from __future__ import annotations

import random
import time
from typing import Any

from .estate import Cluster, Node, NodeIface, Storage

GIB = 1 << 30
TIB = 1 << 40


def node_ifaces(ip: str, prefix: int = 24) -> list[NodeIface]:
    """A typical node: two NICs bonded, a VLAN-aware bridge, a VLAN iface, an internal bridge.

    Numbers that PVE reads out of the interfaces file come back as strings
    (`netmask`, `vlan-id`, `bond_miimon`, `bridge_fd`), so they are strings here.
    """
    octets = ip.split(".")
    gateway = ".".join(octets[:3] + ["1"])
    vlan20 = ".".join(octets[:1] + [str((int(octets[1]) + 10) % 256)] + octets[2:])
    ip6_net = f"fd00:{octets[0]}:{octets[1]}:{octets[2]}"  # a ULA /64 per management network
    common = {"method6": "manual", "families": ["inet"]}
    rows: list[dict[str, Any]] = [
        {"iface": "eno1", "type": "eth", "method": "manual", **common, "priority": 3,
         "active": 1, "exists": 1},
        {"iface": "eno2", "type": "eth", "method": "manual", **common, "priority": 4,
         "active": 1, "exists": 1},
        {"iface": "bond0", "type": "bond", "method": "manual", **common, "priority": 5,
         "autostart": 1, "active": 1, "slaves": "eno1 eno2", "bond_mode": "802.3ad",
         "bond_xmit_hash_policy": "layer3+4", "bond_miimon": "100"},
        {"iface": "vmbr0", "type": "bridge", "method": "static", **common, "priority": 6,
         "autostart": 1, "active": 1, "address": ip, "netmask": str(prefix),
         "cidr": f"{ip}/{prefix}", "gateway": gateway, "bridge_ports": "bond0",
         "method6": "static", "families": ["inet", "inet6"], "address6": f"{ip6_net}::{octets[3]}",
         "netmask6": "64", "cidr6": f"{ip6_net}::{octets[3]}/64", "gateway6": f"{ip6_net}::1",
         "bridge_stp": "off", "bridge_fd": "0", "bridge_vlan_aware": 1,
         "bridge_vids": "2-4094", "comments": "mgmt + VM uplink\n"},
        {"iface": "vmbr0.20", "type": "vlan", "method": "static", **common, "priority": 7,
         "autostart": 1, "active": 1, "address": vlan20, "netmask": "24",
         "cidr": f"{vlan20}/24", "vlan-raw-device": "vmbr0", "vlan-id": "20"},
        {"iface": "vmbr1", "type": "bridge", "method": "manual", **common, "priority": 8,
         "autostart": 1, "active": 1, "bridge_ports": "", "bridge_stp": "off", "bridge_fd": 0},
    ]
    return [NodeIface(r) for r in rows]


def make_node(cluster_index: int, n: int, name: str, rng: random.Random,
              standalone: bool) -> Node:
    ip = f"10.{10 + cluster_index}.0.{11 + n}"
    fingerprint = ":".join(f"{rng.getrandbits(8):02X}" for _ in range(32))
    return Node(
        name=name,
        nodeid=0 if standalone else n + 1,
        ip=ip,
        maxcpu=rng.choice([32, 64, 128]),
        maxmem=rng.choice([256, 512, 768]) * GIB,
        booted_at=time.time() - rng.randint(3, 90) * 86400,
        level="" if standalone else "c",
        ssl_fingerprint=fingerprint,
        ifaces=node_ifaces(ip),
    )


def make_storages(cluster: Cluster) -> dict[str, Storage]:
    stores = [
        Storage("local", "dir", ["backup", "iso", "vztmpl", "snippets"], total=100861726720,
                used=9876543210, props={"path": "/var/lib/vz", "prune-backups": "keep-all=1"}),
        Storage("local-lvm", "lvmthin", ["images", "rootdir"], total=1862426312704,
                used=412316860416, props={"vgname": "pve", "thinpool": "data"}),
    ]
    if not cluster.standalone:
        stores += [
            Storage("ceph-vm", "rbd", ["images", "rootdir"], shared=True, total=10 * TIB,
                    used=2 * TIB, props={"pool": "vm", "krbd": 0}),
            Storage("pbs01", "pbs", ["backup"], shared=True, total=16000900661248,
                    used=5277655813324,
                    props={"server": "10.10.0.50", "datastore": "store1", "username": "pve@pbs",
                           "fingerprint": "aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:"
                           "aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99",
                           "prune-backups": "keep-daily=7,keep-weekly=4"}),
        ]
    return {s.storage: s for s in stores}

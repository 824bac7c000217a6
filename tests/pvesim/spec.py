"""Estate specs: CLI counts, JSON/YAML estate files, and explicit guest descriptions.

An estate file looks like::

    {"seed": 7, "clusters": [
      {"name": "prod-cl1", "version": "9.1.4", "nodes": 3, "guests": 40},
      {"name": "edge", "standalone": true, "nodes": ["edge1"], "guests": 3},
      {"name": "lab", "version": "8.3.2", "nodes": 2, "guests": [
         {"vmid": 100, "kind": "qemu", "name": "x", "node": "pve1", "status": "running",
          "tags": ["a", "b"], "agent": true, "nics": [{"ip": "198.18.7.5/24", "tag": 10}]}]}]}

`guests` is either a count (seeded mix, awkward cases first) or a list of explicit
guests; every field not given is filled in deterministically.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

from .addressing import AddressAllocator
from .cluster_config import populate_cluster_config
from .estate import Cluster, Estate, Guest, HAConfig, Nic, Snapshot
from .generator import GuestFactory, build_cluster

DEFAULT_VERSION = "9.1.4"


def cluster_name(index: int) -> str:
    return f"cl{index + 1}"


def estate_from_counts(clusters: int = 1, nodes: int = 3, guests: int = 20, seed: int = 0,
                       version: str = DEFAULT_VERSION, standalone: int = 0) -> Estate:
    """`clusters` clusters of `nodes` nodes and `guests` guests, plus standalone nodes."""
    spec: dict[str, Any] = {
        "seed": seed,
        "clusters": [
            {"name": cluster_name(i), "nodes": nodes, "guests": guests, "version": version}
            for i in range(clusters)
        ]
        + [
            {"name": f"standalone{j + 1}", "standalone": True, "nodes": 1, "guests": guests,
             "version": version}
            for j in range(standalone)
        ],
    }
    return estate_from_spec(spec)


def load_estate_file(path: str | Path) -> Estate:
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith((".yaml", ".yml")):
        import yaml  # optional; JSON needs nothing extra

        return estate_from_spec(yaml.safe_load(text))
    return estate_from_spec(json.loads(text))


def estate_from_spec(spec: dict[str, Any]) -> Estate:
    seed = int(spec.get("seed", 0))
    clusters: list[Cluster] = []
    for index, cspec in enumerate(spec.get("clusters", [])):
        guests = cspec.get("guests", 0)
        standalone = bool(cspec.get("standalone", False))
        nodes = cspec.get("nodes", 1 if standalone else 3)
        if isinstance(nodes, list):
            nodes = [n if isinstance(n, str) else n["name"] for n in nodes]
        cluster = build_cluster(
            index,
            cspec.get("name") or cluster_name(index),
            nodes=nodes,
            guests=guests if isinstance(guests, int) else 0,
            seed=seed,
            version=str(cspec.get("version", DEFAULT_VERSION)),
            standalone=standalone,
            lxc_share=float(cspec.get("lxc_share", 0.3)),
        )
        if isinstance(guests, list):
            for fields in guests:
                guest = guest_from_fields(cluster, fields)
                cluster.guests[guest.vmid] = guest
            populate_cluster_config(cluster)
        clusters.append(cluster)
    return Estate(clusters=clusters, seed=seed)


def _nic_from_fields(factory: GuestFactory, index: int, kind: str, spec: dict[str, Any]) -> Nic:
    dhcp = spec.get("ip") == "dhcp" or bool(spec.get("dhcp"))
    nic = factory.nic(index, kind, tag=spec.get("tag"), dhcp=dhcp)
    if "mac" in spec:
        nic.mac = str(spec["mac"]).upper()
    if spec.get("ip") not in (None, "dhcp", "auto"):
        nic.ipv4 = spec["ip"]
        nic.gw4 = spec.get("gw")
    if "ip6" in spec:
        nic.ipv6, nic.gw6 = spec["ip6"], spec.get("gw6")
    for key in ("bridge", "model", "firewall", "mtu", "link_down"):
        if key in spec:
            setattr(nic, key, spec[key])
    if "trunks" in spec:
        nic.trunks = [int(t) for t in spec["trunks"]]
    return nic


def guest_from_fields(cluster: Cluster, fields: dict[str, Any]) -> Guest:
    """A complete guest from a partial description; unspecified parts are seeded defaults."""
    vmid = int(fields.get("vmid") or cluster.next_vmid())
    kind = fields.get("kind") or fields.get("type") or "qemu"
    if cluster.allocator is None:
        cluster.allocator = AddressAllocator(cluster.index)
    factory = GuestFactory(cluster, random.Random(f"guest:{cluster.index}:{vmid}"),
                           cluster.allocator)
    guest = factory.guest(vmid - 100, kind)
    guest.vmid = vmid
    guest.node = fields.get("node") or guest.node
    nics = fields.get("nics")
    if isinstance(nics, int):
        guest.nics = [factory.nic(n, kind) for n in range(nics)]
    elif isinstance(nics, list):
        guest.nics = [_nic_from_fields(factory, n, kind, s) for n, s in enumerate(nics)]
    tags = fields.get("tags")
    if isinstance(tags, str):
        fields = {**fields, "tags": [t for t in tags.replace(",", ";").split(";") if t]}
    simple = ("name", "status", "template", "tags", "description", "cores", "sockets",
              "agent", "agent_running", "onboot", "lock", "pool", "ostype", "bios")
    for key in simple:
        if key in fields:
            setattr(guest, key, fields[key])
    if "memory" in fields:
        guest.memory_mib = int(fields["memory"])
    if "ha" in fields and fields["ha"]:
        ha = fields["ha"]
        guest.ha = HAConfig(**ha) if isinstance(ha, dict) else HAConfig()
    if "snapshots" in fields:
        guest.snapshots = []
        factory.snapshots(guest, 0)
        for n, name in enumerate(fields["snapshots"]):
            guest.snapshots.append(Snapshot(name=name, snaptime=1746000000 + n,
                                            parent=guest.current_parent))
    if guest.template:
        guest.status = "stopped"
    if guest.running:
        guest.started_at = time.time() - 3600
        guest.pid = 10000 + vmid
    else:
        guest.started_at, guest.pid = 0.0, 0
    if guest.kind == "lxc":
        guest.agent = False
    return guest

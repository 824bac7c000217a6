"""Node interfaces from ``/nodes/{node}/network`` -> NetBox device interfaces and their IPs.

Physical ports, bridges, bonds (NetBox ``lag`` with the bond's slaves as members),
VLAN interfaces (``virtual`` with the raw device as parent), bridge ports (``bridge``).
Identity: (device, name); the node's addresses become IP addresses on those interfaces
(identity: host in the global VRF; an address held by an object we do not manage is a
conflict, left alone). The device's primary IP is the interface address equal to the
node IP ``/cluster/status`` reports (the address Proxmox serves the cluster on), and its
primary in the other family is that interface's address of that family (IPv6 beside IPv4).
Only nodes whose network was read are touched, so an offline node keeps what it had.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.errors import ProxmoxError
from shared.netbox.client import JsonObject, NetBoxClient
from shared.proxmox.client import ProxmoxClient
from shared.sync.addresses import canonical
from shared.sync.children import Child, ChildKind, reconcile
from shared.sync.diff import comparable, tag_ids
from shared.sync.models import ClusterInfo
from shared.sync.outcome import Outcome

IFACE_PATH = "dcim/interfaces/"
IP_PATH = "ipam/ip-addresses/"
IFACE_FIELDS = "id,name,device,type,enabled,description,mtu,lag,parent,bridge,tags"
IP_FIELDS = "id,address,vrf,status,assigned_object_type,assigned_object_id,tags"
TYPES = {"eth": "other", "bond": "lag", "OVSBond": "lag", "bridge": "bridge", "OVSBridge": "bridge"}


def read_node_networks(client: ProxmoxClient, cluster: ClusterInfo) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    networks, warnings = {}, []
    for node in cluster.nodes:
        if not node.online:
            continue
        try:
            answer = client.get(f"nodes/{node.name}/network")
        except ProxmoxError as exc:
            warnings.append(f"node {node.name}: network not read: {exc}")
            continue
        if isinstance(answer, list):
            networks[node.name] = [row for row in answer if isinstance(row, dict) and row.get("iface")]
    return networks, warnings


def _relations(row: Mapping[str, Any]) -> dict[str, str]:
    """``{member: (field, holder)}`` pairs this row implies: bond slaves, bridge ports, VLAN parent."""
    out: dict[str, str] = {}
    name = str(row["iface"])
    for member in str(row.get("slaves") or row.get("ovs_bonds") or "").split():
        out[member] = f"lag:{name}"
    for member in str(row.get("bridge_ports") or row.get("ovs_ports") or "").split():
        out.setdefault(member, f"bridge:{name}")
    return out


def sync_node_network(
    client: NetBoxClient, managed_tag: int, device_ids: Mapping[str, int],
    networks: Mapping[str, Sequence[Mapping[str, Any]]], cluster: ClusterInfo,
) -> list[Outcome]:  # fmt: skip
    devices = {device_ids[n]: rows for n, rows in networks.items() if n in device_ids}
    if not devices:
        return []
    current: dict[tuple[int, str], JsonObject] = {}
    for page in client.iter_all(IFACE_PATH, {"device_id": sorted(devices), "fields": IFACE_FIELDS}):
        current.update({(int(i["device"]["id"]), str(i["name"])): i for i in page})
    desired = [Child((dev, str(r["iface"])), _iface_body(dev, r), f"{r['iface']}") for dev, rows in devices.items()
               for r in rows]  # fmt: skip
    written = reconcile(client, ChildKind(IFACE_PATH, "device_interface", managed_tag), current, desired,
                        prune=lambda key, obj: True)  # fmt: skip
    _link(client, devices, current, written.ids)
    outcomes = written.outcomes + _sync_ips(client, managed_tag, devices, written.ids)
    _set_primary(client, cluster, device_ids, written.ids, devices)
    return outcomes


def _iface_body(device: int, row: Mapping[str, Any]) -> JsonObject:
    kind = str(row.get("type") or "")
    comment = str(row.get("comments") or "").strip()
    return {"device": device, "name": str(row["iface"]), "type": TYPES.get(kind, "virtual"),
            "enabled": bool(row.get("active", 1)), "description": (comment or kind)[:200]}  # fmt: skip


def _link(client: NetBoxClient, devices: Mapping[int, Sequence[Mapping[str, Any]]],
          current: Mapping[tuple[int, str], JsonObject], ids: Mapping[Any, int]) -> None:  # fmt: skip
    """Second pass, once every interface exists: LAG members, bridge ports, VLAN parents."""
    patches = []
    for dev, rows in devices.items():
        wanted: dict[str, dict[str, int | None]] = {str(r["iface"]): {} for r in rows}
        for row in rows:
            for member, link in _relations(row).items():
                field, holder = link.split(":", 1)
                if member in wanted and (dev, holder) in ids:
                    wanted[member][field] = ids[(dev, holder)]
            parent = row.get("vlan-raw-device") or (str(row["iface"]).rsplit(".", 1)[0] if row.get("type") == "vlan" else None)
            if parent and (dev, parent) in ids:
                wanted[str(row["iface"])]["parent"] = ids[(dev, parent)]
        for name, fields in wanted.items():
            have = current.get((dev, name), {})
            change = {f: v for f, v in fields.items() if comparable(f, have.get(f)) != v}
            if change and (dev, name) in ids:
                patches.append({"id": ids[(dev, name)], **change})
    if patches:
        client.update(IFACE_PATH, patches)


def _sync_ips(client: NetBoxClient, managed_tag: int, devices: Mapping[int, Sequence[Mapping[str, Any]]],
              ids: Mapping[Any, int]) -> list[Outcome]:  # fmt: skip
    wanted: dict[str, tuple[int, str]] = {}
    for dev, rows in devices.items():
        for row in rows:
            for raw in (row.get("cidr"), row.get("cidr6")):
                cidr = canonical(str(raw)) if raw else None
                if cidr and (dev, str(row["iface"])) in ids:
                    wanted.setdefault(cidr.split("/")[0], (ids[(dev, str(row["iface"]))], cidr))
    iface_ids = sorted(set(ids.values()))
    current: dict[Any, JsonObject] = {}
    for page in client.iter_all(IP_PATH, {"interface_id": iface_ids, "fields": IP_FIELDS}) if iface_ids else []:
        current.update({str(ip["address"]).split("/")[0]: ip for ip in page if ip.get("vrf") is None})
    outcomes = []
    missing = sorted(set(wanted) - set(current))
    for page in client.iter_all(IP_PATH, {"address": missing, "fields": IP_FIELDS}) if missing else []:
        for ip in page:
            host = str(ip["address"]).split("/")[0]
            if ip.get("vrf") is not None:
                continue
            if managed_tag in tag_ids(ip):
                current[host] = ip
            elif host in wanted:
                outcomes.append(Outcome("ip_address", wanted.pop(host)[1], "skipped", int(ip["id"]),
                                        warning=f"conflict: {ip['address']} is held by an object "
                                                "proxbox-mq does not manage; left alone"))  # fmt: skip
    desired = [Child(host, {"address": cidr, "status": "active", "assigned_object_type": "dcim.interface",
                            "assigned_object_id": iface}, cidr) for host, (iface, cidr) in wanted.items()]  # fmt: skip
    written = reconcile(client, ChildKind(IP_PATH, "ip_address", managed_tag), current, desired,
                        prune=lambda key, ip: ip.get("assigned_object_type") == "dcim.interface")  # fmt: skip
    return outcomes + written.outcomes


def primary_hosts(served_ip: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``{"primary_ip4": host, "primary_ip6": host}`` for a node that serves ``served_ip``.

    The served address is primary in its family; the other family's primary is the
    address of that family on the same interface (the management bridge), if any.
    """
    served = str(canonical(served_ip) or served_ip).split("/")[0]
    for row in rows:
        cidrs = [canonical(str(raw)) for raw in (row.get("cidr"), row.get("cidr6")) if raw]
        hosts = [cidr.split("/")[0] for cidr in cidrs if cidr]
        if served in hosts:
            return {_primary_field(host): host for host in hosts}
    return {_primary_field(served): served}


def _primary_field(host: str) -> str:
    return "primary_ip6" if ":" in host else "primary_ip4"


def _set_primary(client: NetBoxClient, cluster: ClusterInfo, device_ids: Mapping[str, int],
                 ids: Mapping[Any, int], devices: Mapping[int, Any]) -> None:  # fmt: skip
    wanted = {device_ids[n.name]: primary_hosts(n.ip, devices[device_ids[n.name]]) for n in cluster.nodes
              if n.ip and device_ids.get(n.name) in devices}  # fmt: skip
    hosts = sorted({host for fields in wanted.values() for host in fields.values()})
    if not hosts:
        return
    ours = set(ids.values())
    found: dict[str, int] = {}
    for page in client.iter_all(IP_PATH, {"address": hosts, "fields": IP_FIELDS}):
        found.update({str(ip["address"]).split("/")[0]: int(ip["id"]) for ip in page if ip.get("assigned_object_id") in ours})
    have: dict[int, dict[str, Any]] = {}
    for page in client.iter_all("dcim/devices/", {"id": sorted(wanted), "fields": "id,primary_ip4,primary_ip6"}):
        have.update({int(d["id"]): {f: comparable(f, d.get(f)) for f in ("primary_ip4", "primary_ip6")} for d in page})
    patches = []
    for dev, fields in wanted.items():
        patch = {f: found[host] for f, host in fields.items() if host in found and have.get(dev, {}).get(f) != found[host]}
        if patch:
            patches.append({"id": dev, **patch})
    if patches:
        client.update("dcim/devices/", patches)

"""Guest NICs -> NetBox VM interfaces (``netN``) with their MAC address objects and VLANs.

Identity: a VM interface by (VM, name), its MAC by (interface, value): a MAC is never
looked up globally, so the same MAC on an object we do not manage is never touched.
802.1Q: an access ``tag`` alone -> mode ``access`` with that untagged VLAN; ``trunks``
-> mode ``tagged`` with the trunk VLANs (and the ``tag`` as untagged VLAN when both are
set); neither -> no mode. The interface's ``primary_mac_address`` is set once its MAC
object exists (NetBox only accepts a MAC assigned to the interface).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from shared.netbox.client import JsonObject, NetBoxClient
from shared.sync.children import Child, ChildKind, Written, nested_ids, reconcile
from shared.sync.nics import GuestNic

IFACE_PATH = "virtualization/interfaces/"
MAC_PATH = "dcim/mac-addresses/"
IFACE_FIELDS = ("id,name,virtual_machine,enabled,mtu,description,mode,untagged_vlan,tagged_vlans,"
                "primary_mac_address,tags")  # fmt: skip
MAC_FIELDS = "id,mac_address,assigned_object_type,assigned_object_id,tags"
VMINTERFACE = "virtualization.vminterface"


@dataclass(frozen=True)
class GuestNics:
    vm_id: int
    label: str  # the VM's NetBox name, for events
    vmid: int
    nics: tuple[GuestNic, ...]


def read_interfaces(client: NetBoxClient, vm_ids: Sequence[int]) -> dict[tuple[int, str], JsonObject]:
    found: dict[tuple[int, str], JsonObject] = {}
    for start in range(0, len(vm_ids), 100):
        params = {"virtual_machine_id": list(vm_ids[start : start + 100]), "fields": IFACE_FIELDS}
        for page in client.iter_all(IFACE_PATH, params):
            found.update({(int(i["virtual_machine"]["id"]), str(i["name"])): i for i in page})
    return found


def _normalize_iface(obj: JsonObject) -> JsonObject:
    mode = obj.get("mode")
    return {**obj, "tagged_vlans": nested_ids(obj.get("tagged_vlans")),
            "mode": (mode.get("value") if isinstance(mode, dict) else mode) or ""}  # fmt: skip


def desired_iface(vm_id: int, nic: GuestNic, vlan_ids: Mapping[int, int]) -> JsonObject:
    where = " ".join(p for p in (nic.model or nic.guest_name, f"on {nic.bridge}" if nic.bridge else None) if p)
    body: JsonObject = {"virtual_machine": vm_id, "name": nic.name, "enabled": not nic.link_down,
                        "description": where, "mode": "", "untagged_vlan": None, "tagged_vlans": []}  # fmt: skip
    if nic.mtu:
        body["mtu"] = nic.mtu
    untagged = vlan_ids.get(nic.tag) if nic.tag else None
    if nic.trunks:
        body.update(mode="tagged", untagged_vlan=untagged,
                    tagged_vlans=sorted(vlan_ids[v] for v in nic.trunks if v in vlan_ids))  # fmt: skip
    elif untagged:
        body.update(mode="access", untagged_vlan=untagged)
    return body


def sync_interfaces(
    client: NetBoxClient, managed_tag: int, chunk: int, guests: Sequence[GuestNics], vlan_ids: Mapping[int, int]
) -> tuple[Written, dict[tuple[int, str], int]]:
    """Interfaces, MACs and primary MACs of guests whose config was read in full."""
    current = read_interfaces(client, [g.vm_id for g in guests])
    desired = [Child((g.vm_id, nic.name), desired_iface(g.vm_id, nic, vlan_ids), f"{g.label} {nic.name}", g.vmid)
               for g in guests for nic in g.nics]  # fmt: skip
    kind = ChildKind(IFACE_PATH, "vm_interface", managed_tag, chunk, _normalize_iface)
    ifaces = reconcile(client, kind, current, desired, prune=lambda key, obj: True)
    macs = _sync_macs(client, managed_tag, chunk, guests, ifaces.ids)
    ifaces.outcomes += macs.outcomes
    _set_primary_macs(client, guests, current, ifaces, macs.ids)
    return ifaces, {k: v for k, v in ifaces.ids.items() if isinstance(k, tuple)}


def _sync_macs(
    client: NetBoxClient, managed_tag: int, chunk: int, guests: Sequence[GuestNics], iface_ids: Mapping[object, int]
) -> Written:
    current: dict[tuple[int, str], JsonObject] = {}
    ids = sorted(set(iface_ids.values()))
    for start in range(0, len(ids), 100):
        params = {"vminterface_id": ids[start : start + 100], "fields": MAC_FIELDS}
        for page in client.iter_all(MAC_PATH, params):
            current.update({(int(m["assigned_object_id"]), str(m["mac_address"]).upper()): m for m in page})
    desired = []
    for g in guests:
        for nic in g.nics:
            iface = iface_ids.get((g.vm_id, nic.name))
            if iface is not None and nic.mac:
                body = {"mac_address": nic.mac, "assigned_object_type": VMINTERFACE, "assigned_object_id": iface}
                desired.append(Child((iface, nic.mac), body, f"{g.label} {nic.name} {nic.mac}", g.vmid))
    return reconcile(client, ChildKind(MAC_PATH, "mac_address", managed_tag, chunk), current, desired,
                     prune=lambda key, obj: True)  # fmt: skip


def _set_primary_macs(
    client: NetBoxClient, guests: Sequence[GuestNics], current: Mapping[tuple[int, str], JsonObject],
    ifaces: Written, mac_ids: Mapping[object, int],
) -> None:  # fmt: skip
    patches = []
    for g in guests:
        for nic in g.nics:
            iface = ifaces.ids.get((g.vm_id, nic.name))
            mac = mac_ids.get((iface, nic.mac)) if iface is not None and nic.mac else None
            have = (current.get((g.vm_id, nic.name)) or {}).get("primary_mac_address")
            if iface is not None and mac is not None and (have or {}).get("id") != mac:
                patches.append({"id": iface, "primary_mac_address": mac})
    for start in range(0, len(patches), 200):
        client.update(IFACE_PATH, patches[start : start + 200])
    patched = {p["id"] for p in patches}
    ifaces.outcomes[:] = [replace(o, action="updated") if o.netbox_id in patched and o.action == "unchanged"
                          and o.kind == "vm_interface" else o for o in ifaces.outcomes]  # fmt: skip

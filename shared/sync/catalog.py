"""The NetBox objects every sync relies on, created on first run (predecessor's names).

Tags ``proxbox`` (everything managed), ``proxbox-discovered-{cluster,node,qemu,lxc}``
(set once, on creation), ``proxbox-soft-deleted`` and ``proxbox-template``; cluster
types ``cluster``/``standalone``; manufacturer ``proxmox``, device type
``proxmox-generic-device``, device role ``proxmox-node``; VM roles
``virtual-machine-qemu``/``container-lxc``; and the identity custom fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.netbox.client import NetBoxClient
from shared.sync.ensure import ensure_by

TAG_MANAGED = "proxbox"
TAG_SOFT_DELETED = "proxbox-soft-deleted"
TAG_TEMPLATE = "proxbox-template"
TAG_DISCOVERED = {k: f"proxbox-discovered-{k}" for k in ("cluster", "node", "qemu", "lxc")}
VM_ROLE = {"qemu": "virtual-machine-qemu", "lxc": "container-lxc"}

VM = "virtualization.virtualmachine"
CLUSTER = "virtualization.cluster"
DEVICE = "dcim.device"

#: Identity custom fields: where a NetBox object came from, so an empty Redis still finds it.
CF_ENDPOINT = "proxmox_endpoint_id"
CF_VMID = "proxmox_vm_id"
CF_TYPE = "proxmox_vm_type"
CF_CLUSTER = "proxmox_cluster"
CF_NODE = "proxmox_node"
#: The Proxmox tags last written, so a tag removed in Proxmox is removed in NetBox
#: while tags people added in NetBox stay.
CF_TAGS = "proxmox_tags"

def owned_by(obj: dict[str, Any], endpoint_id: int) -> bool:
    """Whether a NetBox object carries this endpoint's identity.

    Every custom-field filter result is checked with this too: NetBox drops a
    ``cf_*`` filter it does not know yet (e.g. a worker that cached the field list
    before we created the field) and would answer with every object instead.
    """
    return (obj.get("custom_fields") or {}).get(CF_ENDPOINT) == endpoint_id


_CUSTOM_FIELDS: list[dict[str, Any]] = [
    {"name": CF_ENDPOINT, "label": "Proxmox endpoint id", "type": "integer",
     "object_types": [VM, CLUSTER, DEVICE]},
    {"name": CF_VMID, "label": "Proxmox VM id", "type": "integer", "object_types": [VM]},
    {"name": CF_TYPE, "label": "Proxmox VM type", "type": "text", "object_types": [VM]},
    {"name": CF_CLUSTER, "label": "Proxmox cluster", "type": "text", "object_types": [VM, DEVICE]},
    {"name": CF_NODE, "label": "Proxmox node", "type": "text", "object_types": [VM]},
    {"name": CF_TAGS, "label": "Proxmox tags", "type": "text", "object_types": [VM]},
]  # fmt: skip

_TAGS = [
    (TAG_MANAGED, "Proxbox", "ff5722"),
    (TAG_SOFT_DELETED, "Proxbox soft-deleted", "9e9e9e"),
    (TAG_TEMPLATE, "Proxbox template", "607d8b"),
] + [(slug, f"Proxbox discovered {kind}", "4caf50") for kind, slug in TAG_DISCOVERED.items()]


@dataclass(frozen=True)
class Catalog:
    tag_ids: dict[str, int]
    cluster_type_ids: dict[str, int]
    manufacturer_id: int
    device_type_id: int
    node_role_id: int
    vm_role_ids: dict[str, int]


def ensure_catalog(client: NetBoxClient) -> Catalog:
    """Create what is missing and return the ids; only GETs when everything exists."""
    _ensure_custom_fields(client)
    tags, _ = ensure_by(client, "extras/tags/", "slug",
                        [{"name": name, "slug": slug, "color": color} for slug, name, color in _TAGS])  # fmt: skip
    types, _ = ensure_by(client, "virtualization/cluster-types/", "slug", [
        {"name": "Cluster", "slug": "cluster"}, {"name": "Standalone", "slug": "standalone"}])  # fmt: skip
    makers, _ = ensure_by(client, "dcim/manufacturers/", "slug",
                          [{"name": "Proxmox", "slug": "proxmox"}])  # fmt: skip
    maker_id = makers["proxmox"]["id"]
    models, _ = ensure_by(client, "dcim/device-types/", "slug", [
        {"manufacturer": maker_id, "model": "Proxmox Generic Device",
         "slug": "proxmox-generic-device", "u_height": 1}])  # fmt: skip
    roles, _ = ensure_by(client, "dcim/device-roles/", "slug", [
        {"name": "Proxmox Node", "slug": "proxmox-node", "color": "00bcd4", "vm_role": False},
        {"name": "Virtual Machine (QEMU)", "slug": VM_ROLE["qemu"], "color": "2196f3", "vm_role": True},
        {"name": "Container (LXC)", "slug": VM_ROLE["lxc"], "color": "9c27b0", "vm_role": True},
    ])  # fmt: skip
    return Catalog(
        tag_ids={slug: obj["id"] for slug, obj in tags.items()},
        cluster_type_ids={slug: obj["id"] for slug, obj in types.items()},
        manufacturer_id=maker_id,
        device_type_id=models["proxmox-generic-device"]["id"],
        node_role_id=roles["proxmox-node"]["id"],
        vm_role_ids={kind: roles[slug]["id"] for kind, slug in VM_ROLE.items()},
    )


def _ensure_custom_fields(client: NetBoxClient) -> None:
    found, _ = ensure_by(client, "extras/custom-fields/", "name", _CUSTOM_FIELDS)
    patches = []
    for wanted in _CUSTOM_FIELDS:
        have = set(found[wanted["name"]].get("object_types") or [])
        if not set(wanted["object_types"]) <= have:
            # A field that exists (e.g. made by the predecessor) but not on every model we need.
            patches.append({"id": found[wanted["name"]]["id"],
                            "object_types": sorted(have | set(wanted["object_types"]))})  # fmt: skip
    if patches:
        client.update("extras/custom-fields/", patches)

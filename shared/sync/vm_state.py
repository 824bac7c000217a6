"""The NetBox virtual machine we want for a guest (desired state), from what Proxmox said.

Fields: name, status, cluster, node device, role, vcpus, memory (MB), disk (MB),
description, comments (the Proxmox notes), tags and the identity custom fields.
A value Proxmox did not give (config unreadable, RRD expired) is left out, so it
never overwrites what NetBox has with a blank.

Templates (``sync_templates`` on): synced as VMs with status ``offline`` and tag
``proxbox-template`` -- they are real objects people clone from; off: left out
and never treated as stale.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.netbox.client import JsonObject
from shared.sync.catalog import (
    CF_CLUSTER,
    CF_ENDPOINT,
    CF_NODE,
    CF_TAGS,
    CF_TYPE,
    CF_VMID,
    TAG_DISCOVERED,
    TAG_MANAGED,
    TAG_SOFT_DELETED,
    TAG_TEMPLATE,
    Catalog,
)
from shared.sync.diff import tag_ids
from shared.sync.models import GuestConfig, GuestRef

#: Proxmox guest status (qemu's QMP state included) -> NetBox VM status.
STATUS_MAP = {
    "running": "active",
    "stopped": "offline",
    "paused": "paused",
    "suspended": "paused",
    "prelaunch": "paused",
    "postmigrate": "paused",
    "io-error": "failed",
    "internal-error": "failed",
}
#: NetBox's ``comments`` has no limit; ``description`` holds 200 characters.
DESCRIPTION_MAX = 200
MIB = 1024 * 1024
#: NetBox stores memory and disk as PositiveIntegerField (PostgreSQL int4).
INT_MAX = 2**31 - 1


@dataclass(frozen=True)
class VmContext:
    endpoint_id: int
    cluster_name: str
    cluster_id: int
    device_ids: dict[str, int]
    catalog: Catalog
    proxmox_tag_ids: dict[str, int]


def desired_vm(ref: GuestRef, config: GuestConfig | None, ctx: VmContext) -> JsonObject:
    """Everything we manage on the VM, in NetBox's write form (tags added by :func:`vm_tags`)."""
    vm: JsonObject = {
        "name": ref.netbox_name,
        "cluster": ctx.cluster_id,
        "role": ctx.catalog.vm_role_ids[ref.type],
        "description": f"Synced from Proxmox node {ref.node}"[:DESCRIPTION_MAX],
        "custom_fields": {
            CF_ENDPOINT: ctx.endpoint_id, CF_VMID: ref.vmid, CF_TYPE: ref.type,
            CF_CLUSTER: ctx.cluster_name, CF_NODE: ref.node,
            CF_TAGS: ";".join(proxmox_tags(ref, config)) or None,
        },
    }  # fmt: skip
    status = "offline" if ref.template else STATUS_MAP.get(ref.status)
    if status:
        vm["status"] = status
    if ref.node in ctx.device_ids:
        vm["device"] = ctx.device_ids[ref.node]
    vcpus = (config.vcpus if config else None) or ref.maxcpu
    if vcpus:
        vm["vcpus"] = vcpus
    memory = (config.memory_mib if config else None) or (ref.maxmem // MIB if ref.maxmem else None)
    if memory:
        vm["memory"] = min(memory, INT_MAX)
    # `disk` is not written here (issue 5): NetBox sets it to the sum of the VM's virtual
    # disks (shared/sync/disks.py) and refuses any other value once a VM has disks.
    if config is not None:
        vm["comments"] = config.description or ""
    return vm


def proxmox_tags(ref: GuestRef, config: GuestConfig | None) -> tuple[str, ...]:
    """The guest's Proxmox tags: the config's when read, else the resource listing's."""
    return config.tags if config is not None and config.tags is not None else ref.tags


def vm_tags(
    ref: GuestRef, config: GuestConfig | None, ctx: VmContext, current: JsonObject | None
) -> list[int]:
    """Our tags plus the guest's Proxmox tags; tags people added in NetBox stay."""
    catalog = ctx.catalog
    wanted = {catalog.tag_ids[TAG_MANAGED]}
    wanted |= {ctx.proxmox_tag_ids[tag] for tag in proxmox_tags(ref, config) if tag in ctx.proxmox_tag_ids}
    if ref.template:
        wanted.add(catalog.tag_ids[TAG_TEMPLATE])
    if current is None:
        return sorted(wanted | {catalog.tag_ids[TAG_DISCOVERED[ref.type]]})
    previous = str((current.get("custom_fields") or {}).get(CF_TAGS) or "").split(";")
    dropped = {ctx.proxmox_tag_ids[tag] for tag in previous if tag in ctx.proxmox_tag_ids}
    dropped |= {catalog.tag_ids[TAG_SOFT_DELETED], catalog.tag_ids[TAG_TEMPLATE]}
    kept = tag_ids(current) - dropped
    return sorted(wanted | kept)

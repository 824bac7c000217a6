"""Guest disks -> NetBox virtual disks (``virtualization/virtual-disks/``, size in MB).

Every disk slot of a config (``scsiN``, ``virtioN``, ``sataN``, ``ideN``, ``efidisk0``,
``tpmstate0``, LXC ``rootfs`` and ``mpN``), never a CD-ROM or an ``unusedN`` volume.
Sizes use the same MiB arithmetic as the VM's ``disk`` total, so NetBox's aggregate
(it recomputes ``VirtualMachine.disk`` as the sum of its virtual disks on every disk
write, and refuses a VM ``disk`` that differs from that sum) stays what we computed.
Identity: (VM, slot name); a disk that vanished from a config read in full is deleted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from shared.netbox.client import JsonObject, NetBoxClient
from shared.sync.children import Child, ChildKind, Written, reconcile
from shared.sync.models import Frozen
from shared.sync.parse import disk_size_mb

PATH = "virtualization/virtual-disks/"
FIELDS = "id,name,size,description,virtual_machine,tags"
_SLOT = re.compile(r"^(scsi|virtio|sata|ide|efidisk|tpmstate|mp)\d+$|^rootfs$")
DESCRIPTION_MAX = 200


class GuestDisk(Frozen):
    slot: str
    size_mb: int
    volume: str  # "local-lvm:vm-100-disk-0"


def parse_disks(config: Mapping[str, Any]) -> tuple[GuestDisk, ...]:
    disks = []
    for key, value in config.items():
        if not _SLOT.match(key) or not isinstance(value, str):
            continue
        size = disk_size_mb(value)  # None for a cdrom or a disk without size
        if size is not None:
            disks.append(GuestDisk(slot=key, size_mb=size, volume=value.split(",", 1)[0]))
    return tuple(sorted(disks, key=lambda d: d.slot))


def read_disks(client: NetBoxClient, vm_ids: Sequence[int]) -> dict[tuple[int, str], JsonObject]:
    found: dict[tuple[int, str], JsonObject] = {}
    for start in range(0, len(vm_ids), 100):
        params = {"virtual_machine_id": list(vm_ids[start : start + 100]), "fields": FIELDS}
        for page in client.iter_all(PATH, params):
            found.update({(int(d["virtual_machine"]["id"]), str(d["name"])): d for d in page})
    return found


def sync_disks(
    client: NetBoxClient, managed_tag: int, chunk: int,
    guests: Sequence[tuple[int, str, int, tuple[GuestDisk, ...]]],
) -> Written:  # fmt: skip
    """``guests``: (NetBox VM id, VM label, vmid, disks) of guests whose config was read in full."""
    current = read_disks(client, [vm_id for vm_id, *_ in guests])
    desired = [
        Child((vm_id, disk.slot), {"virtual_machine": vm_id, "name": disk.slot, "size": disk.size_mb,
                                   "description": disk.volume[:DESCRIPTION_MAX]},
              f"{label} {disk.slot}", vmid)
        for vm_id, label, vmid, disks in guests for disk in disks
    ]  # fmt: skip
    kind = ChildKind(PATH, "virtual_disk", managed_tag, chunk)
    return reconcile(client, kind, current, desired, prune=lambda key, obj: True)

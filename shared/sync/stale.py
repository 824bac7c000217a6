"""Guests gone from Proxmox: soft-delete (tag + status ``decommissioning``) or delete.

Only called after a complete discovery of the endpoint in the same run; the
caller passes the set of identities that discovery saw. A share of stale VMs
above ``sync_stale_max_fraction`` is refused (an empty listing from a token
without privileges looks exactly like "everything was deleted").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shared.netbox.client import JsonObject, NetBoxClient
from shared.sync.catalog import CF_ENDPOINT, CF_TYPE, CF_VMID, TAG_SOFT_DELETED, Catalog, owned_by
from shared.sync.diff import tag_ids
from shared.sync.models import identity_key
from shared.sync.outcome import Outcome

VM_PATH = "virtualization/virtual-machines/"
#: Below this many VMs the share guard does not apply (deleting 1 of 2 is legitimate).
GUARD_MIN_VMS = 4


@dataclass
class StaleScan:
    total: int
    stale: list[JsonObject]


def scan(
    client: NetBoxClient, endpoint_id: int, seen: Callable[[Sequence[str]], list[bool]],
    catalog: Catalog, page: int,
) -> StaleScan:  # fmt: skip
    """This endpoint's VMs that discovery did not see and are not retired yet (page by page)."""
    soft_tag = catalog.tag_ids[TAG_SOFT_DELETED]
    params = {f"cf_{CF_ENDPOINT}": endpoint_id, "fields": "id,name,status,tags,custom_fields"}
    result = StaleScan(0, [])
    for page_of_vms in client.iter_all(VM_PATH, params, page=page):
        vms = [vm for vm in page_of_vms if owned_by(vm, endpoint_id)]
        result.total += len(vms)
        keys = [_identity(vm) for vm in vms]
        for vm, present in zip(vms, seen(keys), strict=True):
            retired = soft_tag in tag_ids(vm) and (vm.get("status") or {}).get("value") == "decommissioning"
            if not present and not retired:
                result.stale.append({"id": vm["id"], "name": vm["name"], "tags": sorted(tag_ids(vm))})
    return result


def _identity(vm: JsonObject) -> str:
    cf = vm.get("custom_fields") or {}
    vmid = cf.get(CF_VMID)
    return identity_key(str(cf.get(CF_TYPE)), int(vmid)) if vmid is not None else "?"


def too_many(found: StaleScan, max_fraction: float) -> bool:
    return found.total >= GUARD_MIN_VMS and len(found.stale) > max_fraction * found.total


def retire(
    client: NetBoxClient, stale: Sequence[JsonObject], catalog: Catalog, policy: str, chunk: int
) -> list[Outcome]:
    if policy == "delete":
        for start in range(0, len(stale), chunk):
            client.delete(VM_PATH, [vm["id"] for vm in stale[start : start + chunk]])
        return [Outcome("virtual_machine", vm["name"], "deleted", vm["id"]) for vm in stale]
    soft_tag = catalog.tag_ids[TAG_SOFT_DELETED]
    patches = [{"id": vm["id"], "status": "decommissioning", "tags": sorted(set(vm["tags"]) | {soft_tag})}
               for vm in stale]  # fmt: skip
    for start in range(0, len(patches), chunk):
        client.update(VM_PATH, patches[start : start + chunk])
    return [Outcome("virtual_machine", vm["name"], "soft_deleted", vm["id"]) for vm in stale]

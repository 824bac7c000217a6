"""The guest-details stage of a batch: VLANs, VM interfaces + MACs, virtual disks, IPs.

Runs right after the batch's VMs are written, on the same Proxmox reads
(:class:`shared.sync.guest_read.GuestRead`), for the guests whose VM exists in NetBox
and whose config was read (a guest without config keeps what NetBox has: nothing is
added or pruned on a partial read). Order matters: VLANs before the interfaces that
use them, interfaces before their MACs and IPs, IPs before the primary IPs.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.netbox.client import NetBoxClient
from shared.sync.catalog import TAG_MANAGED
from shared.sync.disks import sync_disks
from shared.sync.guest_read import GuestRead
from shared.sync.ip_sync import GuestIps, sync_ips
from shared.sync.outcome import Outcome
from shared.sync.stages import Selection, select
from shared.sync.vlans import ensure_group, ensure_vlans
from shared.sync.vm_interfaces import GuestNics, sync_interfaces
from shared.sync.vm_state import VmContext

#: Every part of the details stage (a targeted guest sync, a full run).
EVERYTHING = select(None)


def sync_details(
    client: NetBoxClient, ctx: VmContext, reads: Sequence[GuestRead], vm_outcomes: Sequence[Outcome], chunk: int,
    parts: Selection = EVERYTHING,
) -> list[Outcome]:  # fmt: skip
    """Details of every guest read in full whose VM landed; the outcomes of what was written.

    ``parts``: which of disks, interfaces (with MACs and VLANs) and IPs (which need the
    interfaces they sit on) a run asked for; all by default.
    """
    vm_ids = {o.vmid: (o.netbox_id, o.name) for o in vm_outcomes
              if o.kind == "virtual_machine" and o.netbox_id is not None and o.action != "failed"}  # fmt: skip
    full = [(r, *vm_ids[r.ref.vmid]) for r in reads if r.config is not None and r.ref.vmid in vm_ids]
    if not full:
        return []
    managed = ctx.catalog.tag_ids[TAG_MANAGED]
    outcomes: list[Outcome] = []
    if parts.interfaces or parts.ips:  # IPs sit on the interfaces
        vids = {v for r, *_ in full for nic in r.nics for v in ((nic.tag,) if nic.tag else ()) + nic.trunks}
        vlan_ids: dict[int, int] = {}
        if vids:
            group = ensure_group(client, ctx.cluster_id, ctx.cluster_name, managed)
            vlan_ids = ensure_vlans(client, group, vids, managed, outcomes)
        nics = [GuestNics(vm_id, name, r.ref.vmid, r.nics) for r, vm_id, name in full]
        ifaces, iface_ids = sync_interfaces(client, managed, chunk, nics, vlan_ids)
        outcomes += ifaces.outcomes
    if parts.disks:
        disks = [(vm_id, name, r.ref.vmid, r.disks) for r, vm_id, name in full]
        outcomes += sync_disks(client, managed, chunk, disks).outcomes
    if parts.ips:
        ips = [GuestIps(vm_id, name, r.ref.vmid, r.addresses) for r, vm_id, name in full]
        outcomes += sync_ips(client, managed, chunk, ips, iface_ids).outcomes
    return outcomes

"""Targeted sync of one guest (hook event, ``/sync/individual``) through the batch code path.

Coalescing: the gateway sets ``Keys.guest_queued`` with ``SET NX`` and only the
winner enqueues. Here the flag is cleared only *after* this message holds its
Proxmox slot, and the guest's state is read after that: a request arriving while
this one runs enqueues exactly one trailing run, which sees the latest state.
"""

from __future__ import annotations

import uuid

from shared.messages import SyncGuest
from shared.sync.details import sync_details
from shared.sync.discover import discover
from shared.sync.guest_read import read_guest
from shared.sync.guests import GuestInput, sync_guests
from shared.sync.infra import ensure_infra
from shared.sync.naming import resolve_names
from shared.sync.outcome import Outcome
from shared.sync.stale import StaleScan, retire, scan
from shared.sync.vm_state import VmContext
from workers.sync_phases import catalog, names_taken
from workers.sync_runtime import Runtime
from workers.sync_steps import Step, StepResult, run_step


def sync_one_guest(rt: Runtime, payload: SyncGuest) -> None:
    run_id = payload.run_id or f"guest-{payload.endpoint_id}-{payload.vmid}-{uuid.uuid4().hex[:8]}"
    step = Step(rt, run_id, "virtual-machines", None, f"endpoint {payload.endpoint_id}")

    def body() -> StepResult:
        outcomes = _sync(rt, payload)
        step.emit(outcomes)
        return StepResult(outcomes)

    run_step(step, body, settles=payload.run_id is not None)


def _sync(rt: Runtime, payload: SyncGuest) -> list[Outcome]:
    endpoint_id, vmid = payload.endpoint_id, payload.vmid
    proxmox, site_slug = rt.proxmox(endpoint_id)
    with rt.proxmox_slot(endpoint_id):
        rt.redis.delete(rt.keys.guest_queued(endpoint_id, vmid))  # after the slot: see module doc
        found = discover(proxmox)
        ref = next((g for g in found.guests if g.vmid == vmid), None)
        read = read_guest(proxmox, ref) if ref is not None else None  # config + addresses (issue 5)
    with rt.netbox_slot():
        netbox = rt.netbox()
        cat = catalog(netbox)
        infra = ensure_infra(netbox, cat, endpoint_id, found.cluster, site_slug)
        if ref is None:
            # The listing was read in full and the guest is not in it: retire it.
            gone = scan(netbox, endpoint_id, lambda keys: [not k.endswith(f":{vmid}") for k in keys], cat,
                        rt.settings.sync_read_page)  # fmt: skip
            mine = StaleScan(gone.total, gone.stale)
            return retire(netbox, mine.stale, cat, rt.settings.sync_stale_policy, rt.settings.sync_write_chunk)
        taken = names_taken(netbox, endpoint_id, {g.identity for g in found.guests})
        named, _ = resolve_names(found.guests, taken)
        ref = next(g for g in named if g.identity == ref.identity)
        ctx = VmContext(endpoint_id, found.cluster.name, infra.cluster_id, infra.device_ids, cat, {})
        assert read is not None
        chunk = rt.settings.sync_write_chunk
        vm = sync_guests(netbox, [GuestInput(ref, read.config, read.warning)], ctx, chunk)
        return infra.outcomes + vm + sync_details(netbox, ctx, [read], vm, chunk)

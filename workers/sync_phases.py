"""The work inside the sync actors: discovery and fan-out plan, one batch, reconcile."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.events import PhaseSummary
from shared.messages import RECONCILE, SYNC_GUESTS, MessageSpec, Reconcile, SyncGuestsBatch
from shared.netbox.client import NetBoxClient
from shared.runs import LEDGER_TTL_S, child_message_id
from shared.sync.catalog import (
    CF_ENDPOINT,
    CF_TYPE,
    CF_VMID,
    TAG_MANAGED,
    Catalog,
    ensure_catalog,
    owned_by,
)
from shared.sync.details import sync_details
from shared.sync.discover import discover
from shared.sync.guest_read import read_guest
from shared.sync.guests import GuestInput, sync_guests
from shared.sync.infra import ensure_infra
from shared.sync.journal import changed_anything, write_entry
from shared.sync.models import GuestRef, identity_key
from shared.sync.naming import Renamed, resolve_names
from shared.sync.node_network import read_node_networks, sync_node_network
from shared.sync.outcome import Outcome
from shared.sync.stages import Selection, select
from shared.sync.stale import retire, scan, too_many
from shared.sync.vm_state import VmContext
from workers.sync_ledger import add_endpoint_counts, endpoint_counts, record_error
from workers.sync_runtime import Runtime
from workers.sync_steps import Step

#: Seconds a process reuses the catalog ids (tags, roles, types) without re-reading them.
CATALOG_TTL_S = 30.0
_catalogs: dict[str, tuple[float, Catalog]] = {}


def catalog(client: NetBoxClient) -> Catalog:
    cached = _catalogs.get(client.connection.url)
    if cached and time.monotonic() - cached[0] < CATALOG_TTL_S:
        return cached[1]
    fresh = ensure_catalog(client)
    _catalogs[client.connection.url] = (time.monotonic(), fresh)
    return fresh


@dataclass
class EndpointPlan:
    cluster_name: str
    infra_outcomes: list[Outcome]
    renamed: list[Renamed]
    messages: list[tuple[MessageSpec[Any], Any, str]] = field(default_factory=list)


def discover_and_plan(rt: Runtime, run_id: str, endpoint_id: int, selection: Selection) -> EndpointPlan:
    proxmox, site_slug = rt.proxmox(endpoint_id)
    with rt.proxmox_slot(endpoint_id):
        found = discover(proxmox)
        networks, network_warnings = (
            read_node_networks(proxmox, found.cluster) if selection.node_network else ({}, [])
        )  # issue 5
    with rt.netbox_slot():
        netbox = rt.netbox()
        cat = catalog(netbox)
        infra = ensure_infra(netbox, cat, endpoint_id, found.cluster, site_slug)
        if selection.node_network:
            infra.outcomes += sync_node_network(netbox, cat.tag_ids[TAG_MANAGED], infra.device_ids, networks,
                                                found.cluster)  # issue 5: node interfaces, IPs  # fmt: skip
        taken = names_taken(netbox, endpoint_id, {g.identity for g in found.guests}) if selection.guests else []
    for warning in [*found.warnings, *network_warnings]:
        record_error(rt, run_id, f"discovery [{found.cluster.name}]: {warning}")
    plan = EndpointPlan(found.cluster.name, infra.outcomes, [])
    if not selection.guests:  # nodes only: no batches, and no reconcile (it would retire every VM)
        return plan
    synced = [g for g in found.guests if rt.settings.sync_templates or not g.template]
    guests, plan.renamed = resolve_names(synced, taken)
    _remember_seen(rt, run_id, endpoint_id, [g.identity for g in found.guests])
    batches = _batches(rt, run_id, endpoint_id, guests)
    stages = sorted(selection.stages)
    for index, batch in enumerate(batches):
        message = SyncGuestsBatch(run_id=run_id, endpoint_id=endpoint_id, batch=index,
                                  cluster_name=found.cluster.name, netbox_cluster_id=infra.cluster_id,
                                  device_ids=infra.device_ids, guests=batch, stages=stages)  # fmt: skip
        plan.messages.append((SYNC_GUESTS, message, child_message_id(run_id, "guests", endpoint_id, index)))
    if not batches:  # nothing to sync: straight to reconcile (everything may be stale)
        closing = Reconcile(run_id=run_id, endpoint_id=endpoint_id, cluster_name=found.cluster.name,
                            netbox_cluster_id=infra.cluster_id)  # fmt: skip
        plan.messages.append((RECONCILE, closing, child_message_id(run_id, "reconcile", endpoint_id)))
    return plan


def names_taken(netbox: NetBoxClient, endpoint_id: int, current: set[str]) -> list[str]:
    """Names held by this endpoint's VMs whose guest is gone (soft-deleted ones, mostly)."""
    taken = []
    params = {f"cf_{CF_ENDPOINT}": endpoint_id, "fields": "id,name,custom_fields"}
    for page in netbox.iter_all("virtualization/virtual-machines/", params):
        for vm in page:
            if not owned_by(vm, endpoint_id):
                continue
            cf = vm.get("custom_fields") or {}
            if cf.get(CF_VMID) is None or identity_key(str(cf.get(CF_TYPE)), int(cf[CF_VMID])) not in current:
                taken.append(str(vm["name"]))
    return taken


def _remember_seen(rt: Runtime, run_id: str, endpoint_id: int, identities: list[str]) -> None:
    key = rt.keys.sync_seen(run_id, endpoint_id)
    pipe = rt.redis.pipeline()
    for start in range(0, len(identities), 1000):
        pipe.sadd(key, *identities[start : start + 1000])
    pipe.expire(key, LEDGER_TTL_S)
    pipe.execute()


def _batches(rt: Runtime, run_id: str, endpoint_id: int, guests: list[GuestRef]) -> list[list[GuestRef]]:
    """Split into batches; a redelivered discovery keeps the batch count it announced first."""
    size = rt.settings.sync_batch_size
    wanted = (len(guests) + size - 1) // size
    key = rt.keys.sync_batches(run_id, endpoint_id)
    rt.redis.hsetnx(key, "total", wanted)
    rt.redis.expire(key, LEDGER_TTL_S)
    total = int(rt.redis.hget(key, "total") or wanted)
    if total == 0:
        return []
    per = max(1, (len(guests) + total - 1) // total)
    return [guests[i * per : (i + 1) * per] for i in range(total)]


def sync_batch(rt: Runtime, payload: SyncGuestsBatch) -> list[Outcome]:
    proxmox, _ = rt.proxmox(payload.endpoint_id)
    with rt.proxmox_slot(payload.endpoint_id):
        selection = select(payload.stages)
        reads = [read_guest(proxmox, ref, addresses=selection.ips) for ref in payload.guests]  # once per run
        inputs = [GuestInput(r.ref, r.config, r.warning) for r in reads]
    # The batch already holds its Proxmox data: wait for NetBox rather than re-queue and
    # fetch it all again (bounded well under the actor's time limit).
    with rt.netbox_slot(wait_s=rt.settings.actor_time_limit_ms / 4000):
        netbox = rt.netbox()
        ctx = VmContext(payload.endpoint_id, payload.cluster_name, payload.netbox_cluster_id,
                        payload.device_ids, catalog(netbox), {})  # fmt: skip
        outcomes = sync_guests(netbox, inputs, ctx, rt.settings.sync_write_chunk)
        if not selection.details:
            return outcomes
        return outcomes + sync_details(netbox, ctx, reads, outcomes, rt.settings.sync_write_chunk, selection)


def reconcile_endpoint(rt: Runtime, payload: Reconcile, step: Step) -> list[Outcome]:
    seen_key = rt.keys.sync_seen(payload.run_id, payload.endpoint_id)

    def seen(keys: Sequence[str]) -> list[bool]:
        return [bool(flag) for flag in rt.redis.smismember(seen_key, list(keys))]

    with rt.netbox_slot():
        netbox = rt.netbox()
        cat = catalog(netbox)
        found = scan(netbox, payload.endpoint_id, seen, cat, rt.settings.sync_read_page)
        outcomes: list[Outcome] = []
        if too_many(found, rt.settings.sync_stale_max_fraction):
            record_error(rt, payload.run_id, f"reconcile [{payload.cluster_name}]: {len(found.stale)} of "
                         f"{found.total} VMs look stale; over sync_stale_max_fraction, nothing retired")  # fmt: skip
        else:
            outcomes = retire(netbox, found.stale, cat, rt.settings.sync_stale_policy, rt.settings.sync_write_chunk)
        step.emit(outcomes)
        add_endpoint_counts(rt, payload.run_id, payload.endpoint_id, f"reconcile:{payload.endpoint_id}", outcomes)
        counts = endpoint_counts(rt, payload.run_id, payload.endpoint_id)
        _journal(rt, netbox, payload, counts)
    _summary(rt, payload, counts)
    return outcomes


def _journal(rt: Runtime, netbox: NetBoxClient, payload: Reconcile, counts: dict[str, int]) -> None:
    if not (rt.settings.sync_journal_unchanged or changed_anything(counts)):
        return
    # At most once per endpoint and run, even if this message is delivered twice.
    if rt.redis.hsetnx(rt.keys.sync_counts(payload.run_id, payload.endpoint_id), "_journal", "1"):
        write_entry(netbox, payload.netbox_cluster_id, payload.run_id, payload.cluster_name, counts)


def _summary(rt: Runtime, payload: Reconcile, counts: dict[str, int]) -> None:
    failed = any(n for key, n in counts.items() if key.endswith(":failed"))
    rt.publisher.publish(PhaseSummary(
        run_id=payload.run_id, phase="virtual-machines", endpoint=payload.cluster_name,
        status="completed_with_errors" if failed else "completed", result=counts,
    ))  # fmt: skip

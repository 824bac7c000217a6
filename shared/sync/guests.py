"""One batch of guests -> NetBox VMs: read current state by identity, diff, bulk write.

Identity is ``(proxmox_endpoint_id, proxmox_vm_type, proxmox_vm_id)`` in custom
fields. A VM without identity in the same cluster with the same name is adopted
(made by hand or by the predecessor). NetBox's (cluster, name) uniqueness backs
this up: two workers racing to create the same guest cannot both succeed, and a
redelivered message re-reads by identity and finds what its first delivery made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from shared.errors import NetBoxError
from shared.netbox.client import JsonObject, NetBoxClient
from shared.sync.catalog import CF_ENDPOINT, CF_TAGS, CF_TYPE, CF_VMID, owned_by
from shared.sync.diff import patch_for
from shared.sync.ensure import ensure_by, find_by, lost_a_race, slugify
from shared.sync.models import GuestConfig, GuestRef, identity_key
from shared.sync.outcome import Outcome
from shared.sync.vm_state import VmContext, desired_vm, vm_tags

VM_PATH = "virtualization/virtual-machines/"
VM_FIELDS = ("id,name,status,cluster,device,role,vcpus,memory,disk,description,comments,"
             "tags,custom_fields")  # fmt: skip
KIND = "virtual_machine"


@dataclass(frozen=True)
class GuestInput:
    ref: GuestRef
    config: GuestConfig | None
    warning: str | None = None


def proxmox_tag_ids(client: NetBoxClient, names: set[str]) -> dict[str, int]:
    """NetBox tag id per Proxmox tag name (created when missing; matched by slug)."""
    if not names:
        return {}
    wanted = [{"name": name, "slug": slugify(name), "color": "9e9e9e"} for name in sorted(names)]
    by_slug, _ = ensure_by(client, "extras/tags/", "slug", wanted)
    return {name: int(by_slug[slugify(name)]["id"]) for name in names if slugify(name) in by_slug}


def read_current(
    client: NetBoxClient, endpoint_id: int, cluster_id: int, refs: Sequence[GuestRef]
) -> dict[str, JsonObject]:
    """Current VMs of these guests by identity, plus adoptable same-name VMs without one."""
    found: dict[str, JsonObject] = {}
    for vm in _identity_matches(client, endpoint_id, refs):
        cf = vm.get("custom_fields") or {}
        key = identity_key(str(cf.get(CF_TYPE)), int(cf[CF_VMID]))
        if key not in found or vm["id"] < found[key]["id"]:  # duplicates: keep the oldest
            found[key] = vm
    missing = {r.netbox_name: r.identity for r in refs if r.identity not in found and r.netbox_name}
    if missing:
        named = find_by(client, VM_PATH, "name", list(missing), {"cluster_id": cluster_id, "fields": VM_FIELDS})
        for name, vm in named.items():
            if (vm.get("custom_fields") or {}).get(CF_ENDPOINT) is None and name in missing:
                found[missing[name]] = vm
    return found


def _identity_matches(client: NetBoxClient, endpoint_id: int, refs: Sequence[GuestRef]) -> list[JsonObject]:
    vmids = sorted({r.vmid for r in refs})
    matches: list[JsonObject] = []
    for start in range(0, len(vmids), 100):
        params = {f"cf_{CF_ENDPOINT}": endpoint_id, f"cf_{CF_VMID}": vmids[start : start + 100],
                  "fields": VM_FIELDS, "limit": 1000}  # fmt: skip
        answer = client.get(VM_PATH, params).get("results") or []
        matches += [vm for vm in answer if owned_by(vm, endpoint_id)]
    return matches


def plan(
    inputs: Sequence[GuestInput], current: Mapping[str, JsonObject], ctx: VmContext
) -> tuple[list[tuple[GuestInput, JsonObject]], list[tuple[GuestInput, JsonObject]], list[Outcome]]:
    """``(creates, patches, unchanged outcomes)``; a patch carries the VM's ``id``."""
    creates, patches, unchanged = [], [], []
    for item in inputs:
        have = current.get(item.ref.identity)
        desired = desired_vm(item.ref, item.config, ctx)
        desired["tags"] = vm_tags(item.ref, item.config, ctx, have)
        if have is None:
            creates.append((item, desired))
            continue
        patch = patch_for(have, desired)
        if patch:
            patches.append((item, {"id": have["id"], **patch}))
        else:
            unchanged.append(_outcome(item, "unchanged", have["id"]))
    return creates, patches, unchanged


def write(
    client: NetBoxClient, creates: Sequence[tuple[GuestInput, JsonObject]],
    patches: Sequence[tuple[GuestInput, JsonObject]], chunk: int,
) -> list[Outcome]:  # fmt: skip
    outcomes: list[Outcome] = []
    for start in range(0, len(creates), chunk):
        outcomes += _write_chunk(client, "created", creates[start : start + chunk])
    for start in range(0, len(patches), chunk):
        outcomes += _write_chunk(client, "updated", patches[start : start + chunk])
    return outcomes


def _write_chunk(client: NetBoxClient, action: str, items: Sequence[tuple[GuestInput, JsonObject]]) -> list[Outcome]:
    bodies = [body for _, body in items]
    try:
        answers = client.create(VM_PATH, bodies) if action == "created" else client.update(VM_PATH, bodies)
    except NetBoxError as exc:
        if not lost_a_race(exc):
            raise  # NetBox down or overloaded: the whole message is retried
        return [_write_one(client, action, item, body) for item, body in items]
    return [_outcome(item, action, answer.get("id")) for (item, _), answer in zip(items, answers, strict=False)]


def _write_one(client: NetBoxClient, action: str, item: GuestInput, body: JsonObject) -> Outcome:
    """After a chunk was refused: each object alone, so one bad guest fails alone."""
    try:
        answer = client.create(VM_PATH, [body]) if action == "created" else client.update(VM_PATH, [body])
    except NetBoxError as exc:
        if not lost_a_race(exc):
            raise
        return _outcome(item, "failed", body.get("id"), error=str(exc))
    return _outcome(item, action, answer[0].get("id"))


def _outcome(item: GuestInput, action: str, netbox_id: object, error: str | None = None) -> Outcome:
    warnings = [w for w in ([item.warning] + list(item.config.warnings if item.config else [])) if w]
    return Outcome(KIND, item.ref.netbox_name or str(item.ref.vmid), action,  # type: ignore[arg-type]
                   int(netbox_id) if isinstance(netbox_id, int) else None, error=error,
                   warning="; ".join(warnings) or None, vmid=item.ref.vmid)  # fmt: skip


def tag_names(inputs: Sequence[GuestInput], current: Mapping[str, JsonObject]) -> set[str]:
    """Proxmox tags now and as last written (a dropped tag must be resolvable to remove it)."""
    names: set[str] = set()
    for item in inputs:
        names |= set(item.config.tags if item.config and item.config.tags is not None else item.ref.tags)
    for vm in current.values():
        names |= {t for t in str((vm.get("custom_fields") or {}).get(CF_TAGS) or "").split(";") if t}
    return names


def sync_guests(
    client: NetBoxClient, inputs: Sequence[GuestInput], ctx: VmContext, chunk: int
) -> list[Outcome]:
    """Read, diff and write one batch; a create refused (e.g. the VM appeared meanwhile:
    a redelivery or a concurrent targeted sync) is re-read and planned once more."""
    refs = [item.ref for item in inputs]
    current = read_current(client, ctx.endpoint_id, ctx.cluster_id, refs)
    ctx = replace(ctx, proxmox_tag_ids=proxmox_tag_ids(client, tag_names(inputs, current)))
    creates, patches, outcomes = plan(inputs, current, ctx)
    written = write(client, creates, patches, chunk)
    refused = {o.vmid for o in written if o.action == "failed" and o.netbox_id is None}
    retry = [item for item, _ in creates if item.ref.vmid in refused]
    if retry:
        written = [o for o in written if not (o.action == "failed" and o.vmid in refused)]
        current = read_current(client, ctx.endpoint_id, ctx.cluster_id, [i.ref for i in retry])
        creates, patches, same = plan(retry, current, ctx)
        written += same + write(client, creates, patches, chunk)
    return outcomes + written

"""Which guests a request means, when it does not say it in our terms.

The plugin names a guest the way NetBox shows it: by the NetBox VM's id, or by
cluster name, node, type and vmid. A fencing notification names a node. Identity
lives in NetBox (the custom fields every managed VM and cluster carry), so these
are resolved there (and, for a node, in Proxmox too), to the ``(proxmox endpoint
id, vmid)`` pairs targeted syncs need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from gateway.peers import ProxmoxReader, netbox_get
from shared.crypto import SecretBox
from shared.db.models import NetBoxEndpoint, ProxmoxEndpoint
from shared.errors import Conflict, NotFound
from shared.sync.catalog import CF_ENDPOINT, CF_NODE, CF_VMID

#: Largest NetBox page asked for when listing a node's VMs.
PAGE = 1000


@dataclass(frozen=True)
class GuestTarget:
    endpoint_id: int
    vmid: int


def _first_netbox(sessions: sessionmaker[Session]) -> NetBoxEndpoint | None:
    with sessions() as session:
        return session.scalars(select(NetBoxEndpoint).order_by(NetBoxEndpoint.id).limit(1)).first()


def _endpoint_named(sessions: sessionmaker[Session], name: str) -> int | None:
    with sessions() as session:
        return session.scalars(select(ProxmoxEndpoint.id).where(ProxmoxEndpoint.name == name)).first()


async def _netbox_endpoint(sessions: sessionmaker[Session], wanted: str) -> NetBoxEndpoint:
    row = await run_in_threadpool(_first_netbox, sessions)  # the database off the event loop
    if row is None:
        raise Conflict(f"{wanted} needs NetBox, and no NetBox endpoint is configured "
                       "(POST /netbox/endpoint)")  # fmt: skip
    return row


def _endpoint_id_of(obj: dict[str, Any]) -> int | None:
    value = (obj.get("custom_fields") or {}).get(CF_ENDPOINT)
    return value if isinstance(value, int) else None


async def guest_of_netbox_vm(
    sessions: sessionmaker[Session], box: SecretBox, netbox_vm_id: int
) -> GuestTarget:
    """The guest behind a NetBox VM that proxbox-mq manages."""
    netbox = await _netbox_endpoint(sessions, "resolving a NetBox VM id")
    vm = await netbox_get(netbox, box, f"virtualization/virtual-machines/{netbox_vm_id}/",
                          {"fields": "id,name,custom_fields"})  # fmt: skip
    if vm is None:
        raise NotFound(f"NetBox VM {netbox_vm_id} does not exist")
    endpoint_id, vmid = _endpoint_id_of(vm), (vm.get("custom_fields") or {}).get(CF_VMID)
    if endpoint_id is None or not isinstance(vmid, int):
        raise Conflict(f"NetBox VM {netbox_vm_id} ({vm.get('name')!r}) is not managed by proxbox: "
                       f"it has no {CF_ENDPOINT}/{CF_VMID} custom fields; run a full update first")  # fmt: skip
    return GuestTarget(endpoint_id, vmid)


async def endpoint_of_cluster(
    sessions: sessionmaker[Session], box: SecretBox, cluster_name: str
) -> int:
    """The Proxmox endpoint whose cluster NetBox shows under ``cluster_name``.

    An endpoint named like the cluster answers without asking NetBox (the usual
    set-up, and the only way before the first sync made the cluster).
    """
    named = await run_in_threadpool(_endpoint_named, sessions, cluster_name)
    if named is not None:
        return named
    netbox = await _netbox_endpoint(sessions, f"no Proxmox endpoint is named {cluster_name!r}; finding its cluster")
    page = await netbox_get(netbox, box, "virtualization/clusters/",
                            {"name": cluster_name, "fields": "id,name,custom_fields"})  # fmt: skip
    ours = [i for cluster in (page or {}).get("results", []) if (i := _endpoint_id_of(cluster)) is not None]
    if not ours:
        raise NotFound(f"no Proxmox endpoint serves a cluster named {cluster_name!r}")
    return ours[0]


async def guests_on_node(
    sessions: sessionmaker[Session], box: SecretBox, endpoint: ProxmoxEndpoint, node: str
) -> list[int]:
    """vmids NetBox last saw on ``node`` plus those Proxmox shows there now (a fenced node's
    guests: HA moves some elsewhere, the rest stay down with it; each needs a sync).

    Raises NetBoxError / httpx errors when either cannot be read: the caller falls back.
    """
    netbox = await _netbox_endpoint(sessions, f"finding the guests of node {node!r}")
    found: set[int] = set()
    params = {f"cf_{CF_ENDPOINT}": str(endpoint.id), f"cf_{CF_NODE}": node,
              "fields": "id,custom_fields", "limit": str(PAGE), "offset": "0"}  # fmt: skip
    while True:
        page = await netbox_get(netbox, box, "virtualization/virtual-machines/", params) or {}
        for vm in page.get("results", []):
            cf = vm.get("custom_fields") or {}
            # Checked again: NetBox ignores a cf_ filter it does not know (answering everything).
            if cf.get(CF_ENDPOINT) == endpoint.id and cf.get(CF_NODE) == node and isinstance(cf.get(CF_VMID), int):
                found.add(cf[CF_VMID])
        if not page.get("next"):
            break
        params["offset"] = str(int(params["offset"]) + PAGE)
    async with ProxmoxReader(endpoint, box) as pve:
        resources = await pve.read("/cluster/resources", {"type": "vm"}) or []
    found |= {int(r["vmid"]) for r in resources if r.get("node") == node and "vmid" in r}
    return sorted(found)

"""Reading Proxmox: one endpoint's cluster and guest list, and one guest's config."""

from __future__ import annotations

from shared.errors import ProxmoxError
from shared.proxmox.client import ProxmoxClient
from shared.sync.models import Discovery, GuestConfig, GuestRef
from shared.sync.parse import parse_cluster_status, parse_guest_config, parse_resource_guests


def discover(client: ProxmoxClient) -> Discovery:
    """``/cluster/status`` and ``/cluster/resources?type=vm``, each read once.

    Raises :class:`ProxmoxError` if either cannot be read: a partial discovery
    must never look complete (stale marking depends on it).
    """
    status = client.get("cluster/status")
    resources = client.get("cluster/resources", type="vm")
    if not isinstance(status, list) or not isinstance(resources, list):
        raise ProxmoxError(f"{client.label}: unexpected answer shape from cluster/status or resources")
    cluster = parse_cluster_status(status, fallback_name=client.credentials.name)
    guests, warnings = parse_resource_guests(resources)
    return Discovery(cluster=cluster, guests=tuple(guests), warnings=tuple(warnings))


def read_config(client: ProxmoxClient, ref: GuestRef) -> tuple[GuestConfig | None, str | None]:
    """A guest's parsed config, or ``(None, why)``: the guest is then synced from the listing."""
    try:
        raw = client.get(f"nodes/{ref.node}/{ref.type}/{ref.vmid}/config")
    except ProxmoxError as exc:
        return None, f"config not readable, synced from the resource list: {exc}"
    if not isinstance(raw, dict):
        return None, "config answer is not an object, synced from the resource list"
    return parse_guest_config(ref.type, raw), None

"""One guest's Proxmox reads for a sync, each done once and shared by every stage.

``config`` (VM fields, NICs, disks) and then, for a running guest, its addresses:
QEMU ``agent/network-get-interfaces`` when the config enables the agent, LXC
``/interfaces``. Agent failures (agent off, not running, VM stopped) are expected:
the guest's addresses count as not read (nothing pruned) and the reason becomes a
warning. The client retries only transient errors, a bounded number of times;
"not running" / "no agent configured" are permanent and cost one request.
"""

from __future__ import annotations

from typing import Any

from shared.errors import ProxmoxError
from shared.proxmox.client import ProxmoxClient
from shared.sync.addresses import (
    GuestAddresses,
    agent_addresses,
    guest_addresses,
    lxc_runtime_addresses,
)
from shared.sync.disks import GuestDisk, parse_disks
from shared.sync.models import Frozen, GuestConfig, GuestRef
from shared.sync.nics import GuestNic, parse_nics, split_props
from shared.sync.parse import as_bool, parse_guest_config


class GuestRead(Frozen):
    ref: GuestRef
    config: GuestConfig | None = None
    warning: str | None = None  # why the config is missing
    nics: tuple[GuestNic, ...] = ()
    disks: tuple[GuestDisk, ...] = ()
    addresses: GuestAddresses = GuestAddresses()
    #: Why the addresses were not read (agent off or failing, guest stopped); informational.
    address_note: str | None = None


def read_guest(client: ProxmoxClient, ref: GuestRef, addresses: bool = True) -> GuestRead:
    """The guest's config, and its addresses when ``addresses`` (the only agent call)."""
    try:
        raw = client.get(f"nodes/{ref.node}/{ref.type}/{ref.vmid}/config")
    except ProxmoxError as exc:
        return GuestRead(ref=ref, warning=f"config not readable, synced from the resource list: {exc}")
    if not isinstance(raw, dict):
        return GuestRead(ref=ref, warning="config answer is not an object, synced from the resource list")
    nics = parse_nics(ref.type, raw)
    runtime: dict[str, list[str]] | None = {}
    note: str | None = None
    if nics and addresses:
        runtime, note = _runtime(client, ref, raw)
    elif nics:  # a run without the IP stage: no agent call (its answer would go unused)
        runtime, note = None, "addresses not asked for"
    return GuestRead(ref=ref, config=parse_guest_config(ref.type, raw), nics=nics, disks=parse_disks(raw),
                     addresses=guest_addresses(ref.type, nics, runtime), address_note=note)  # fmt: skip


def _runtime(client: ProxmoxClient, ref: GuestRef, raw: dict[str, Any]) -> tuple[dict[str, list[str]] | None, str | None]:
    """Addresses by MAC as the running guest reports them, or ``(None, why not)``."""
    if ref.status != "running" or ref.template:
        return None, f"guest {ref.status}: addresses not read"
    base = f"nodes/{ref.node}/{ref.type}/{ref.vmid}"
    if ref.type == "qemu" and not _agent_enabled(raw.get("agent")):
        return None, "guest agent not enabled: addresses not read"
    path = f"{base}/agent/network-get-interfaces" if ref.type == "qemu" else f"{base}/interfaces"
    try:
        answer = client.get(path)
    except ProxmoxError as exc:
        return None, f"addresses not read: {exc}"
    if answer is None:
        return None, "guest reported no interfaces: addresses not read"
    return (agent_addresses(answer) if ref.type == "qemu" else lxc_runtime_addresses(answer)), None


def _agent_enabled(value: Any) -> bool:
    """``agent: 1`` / ``"1,fstrim_cloned_disks=1"`` / ``"enabled=1"`` -> True."""
    if value is None:
        return False
    text = str(value)
    props = split_props(text)
    first = text.split(",", 1)[0]
    return bool(as_bool(props.get("enabled", first if "=" not in first else "0")))

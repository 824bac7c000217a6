"""Typed inventory models: what a sync knows about clusters, nodes and guests.

``GuestRef`` travels inside ``sync_guests`` messages (one batch at a time), so it
holds only what ``/cluster/resources`` said about a guest plus the name it gets
in NetBox, never the guest's whole configuration.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GuestType = Literal["qemu", "lxc"]


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeInfo(Frozen):
    name: str
    online: bool = True
    ip: str | None = None


class ClusterInfo(Frozen):
    """One Proxmox endpoint's cluster (or standalone node), from ``/cluster/status``."""

    name: str
    standalone: bool
    nodes: tuple[NodeInfo, ...]


class GuestRef(Frozen):
    """A guest as ``/cluster/resources`` lists it, plus its resolved NetBox name."""

    vmid: int
    type: GuestType
    node: str
    #: Name in Proxmox; None when Proxmox did not say (guest on a node offline for long).
    name: str | None = None
    #: Name it gets in NetBox (truncated, made unique in its cluster); set by discovery.
    netbox_name: str | None = None
    status: str = "unknown"
    template: bool = False
    maxcpu: int | None = None
    maxmem: int | None = None
    maxdisk: int | None = None
    tags: tuple[str, ...] = ()

    @property
    def identity(self) -> str:
        return identity_key(self.type, self.vmid)


def identity_key(guest_type: str, vmid: int) -> str:
    """``qemu:100``: a guest's identity inside one Proxmox endpoint (QEMU 100 != LXC 100)."""
    return f"{guest_type}:{vmid}"


class GuestConfig(Frozen):
    """What a guest's ``config`` adds (every field optional: parsing is lenient)."""

    name: str | None = None
    vcpus: int | None = None
    memory_mib: int | None = None
    disk_mb: int | None = None
    description: str | None = None
    onboot: bool | None = None
    tags: tuple[str, ...] | None = None
    warnings: tuple[str, ...] = Field(default_factory=tuple)


class Discovery(Frozen):
    """One endpoint's discovery: the cluster and every guest (in the discovering worker only)."""

    cluster: ClusterInfo
    guests: tuple[GuestRef, ...]
    warnings: tuple[str, ...] = ()

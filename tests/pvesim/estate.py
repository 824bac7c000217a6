"""The simulated estate: clusters, nodes, guests and what hangs off them.

This is the single source of truth the HTTP layer renders from. It holds plain
structured data (not PVE-formatted strings); `render_*` modules turn it into the
exact shapes Proxmox returns. Every mutation goes through a `Cluster` method that
takes the cluster lock and bumps `generation`, so cached serialisations (the big
`/cluster/resources` answer) know when to rebuild.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

GuestKind = Literal["qemu", "lxc"]
_REVISIONS = itertools.count(1)  # process-wide, so a re-created guest never reuses one


def version_tuple(version: str) -> tuple[int, int, int]:
    parts = [int(p) for p in version.split(".")[:3]]
    while len(parts) < 3:
        parts.append(0)
    return (parts[0], parts[1], parts[2])


@dataclass
class Nic:
    """One guest NIC (`netN`). Addresses are what the guest really has."""

    index: int
    mac: str  # upper case, as PVE writes it into the config
    bridge: str = "vmbr0"
    model: str = "virtio"  # QEMU only
    tag: int | None = None  # access VLAN
    trunks: list[int] = field(default_factory=list)
    firewall: bool = True
    ipv4: str | None = None  # "198.18.0.5/24", or "dhcp" (LXC) ; None = no IPv4
    gw4: str | None = None
    ipv6: str | None = None  # "2001:db8::5/64", "auto", "dhcp"
    gw6: str | None = None
    dhcp_lease: str | None = None  # address a DHCP guest actually got (cidr)
    link_down: bool = False
    mtu: int | None = None

    @property
    def guest_ifname(self) -> str:
        return f"eth{self.index}"


@dataclass
class Disk:
    """A disk slot: scsiN, virtioN, sataN, ideN, efidisk0, tpmstate0, rootfs, mpN, unusedN."""

    slot: str
    storage: str
    volname: str
    size: str  # PVE size string: "32G", "528K", "4M"
    options: dict[str, str] = field(default_factory=dict)
    mountpoint: str | None = None  # LXC mpN


@dataclass
class Snapshot:
    name: str
    snaptime: int
    description: str = ""
    vmstate: bool = False
    parent: str | None = None


@dataclass
class HAConfig:
    state: str = "started"
    group: str | None = None  # PVE 8 group name; PVE 9 shows it as rule ha-group-<name>
    max_restart: int = 1
    max_relocate: int = 1
    failback: bool = True
    comment: str | None = None


@dataclass
class Guest:
    vmid: int
    kind: GuestKind
    name: str
    node: str
    status: str = "running"  # running | stopped | paused
    template: bool = False
    tags: list[str] = field(default_factory=list)
    description: str | None = None
    cores: int = 2
    sockets: int = 1
    memory_mib: int = 2048
    balloon_mib: int | None = None
    swap_mib: int = 512  # LXC
    ostype: str = "l26"
    bios: str = "seabios"
    machine: str | None = None
    agent: bool = False  # QEMU: `agent: 1` in config
    agent_running: bool = True  # whether qemu-ga answers (only if agent and running)
    onboot: bool = False
    nics: list[Nic] = field(default_factory=list)
    disks: list[Disk] = field(default_factory=list)
    cdrom: str | None = None  # ide2 content, e.g. "none" or "local:iso/debian-12.iso"
    snapshots: list[Snapshot] = field(default_factory=list)
    lock: str | None = None
    pool: str | None = None
    ha: HAConfig | None = None
    unprivileged: bool = True
    nameserver: str | None = None
    searchdomain: str | None = None
    started_at: float = 0.0  # wall clock of last start, for uptime
    pid: int = 0
    smbios_uuid: str = ""
    extra_config: dict[str, Any] = field(default_factory=dict)  # raw keys set via PUT config
    # Bumped by every attribute assignment after __init__: the `/cluster/resources` row
    # cache re-renders a guest whose revision moved. Replace lists (tags, disks) rather
    # than editing them in place; `ha.state` is checked on its own.
    revision: ClassVar[int] = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "revision", next(_REVISIONS))
        # The assignment hook lives on a subclass, so that __init__ (~35 fields, 10k
        # guests) does not pay for it.
        self.__class__ = _RevisedGuest

    @property
    def sid(self) -> str:
        return f"{'vm' if self.kind == 'qemu' else 'ct'}:{self.vmid}"

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def current_parent(self) -> str | None:
        return self.snapshots[-1].name if self.snapshots else None

    def nic_by_index(self, index: int) -> Nic:
        for nic in self.nics:
            if nic.index == index:
                return nic
        raise KeyError(f"guest {self.vmid} has no net{index}")


class _RevisedGuest(Guest):
    """What every Guest becomes once built: each assignment bumps `revision`."""

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        object.__setattr__(self, "revision", next(_REVISIONS))


@dataclass
class NodeIface:
    """A line group of /etc/network/interfaces, already in PVE's API field names."""

    fields: dict[str, Any]


@dataclass
class Node:
    name: str
    nodeid: int
    ip: str
    online: bool = True
    offline_status: int = 595  # what the proxy answers while offline: 595 or 596
    offline_delay: float = 0.0  # seconds before that answer (596 is really after 30 s)
    rrd_expired: bool = False  # offline long enough that guests show status "unknown"
    maxcpu: int = 32
    maxmem: int = 274877906944
    maxdisk: int = 100861726720
    cpu_model: str = "AMD EPYC 7543 32-Core Processor"
    level: str = "c"
    booted_at: float = 0.0
    ssl_fingerprint: str = ""
    ifaces: list[NodeIface] = field(default_factory=list)
    maintenance: bool = False


@dataclass
class Storage:
    storage: str
    type: str  # dir | lvmthin | rbd | pbs | nfs | zfspool
    content: list[str]
    shared: bool = False
    nodes: list[str] | None = None  # None = every node
    total: int = 1 << 40
    used: int = 1 << 38
    props: dict[str, Any] = field(default_factory=dict)  # path, vgname, pool, server ...


@dataclass
class BackupVolume:
    storage: str
    vmid: int
    kind: GuestKind
    ctime: int
    size: int
    notes: str | None = None
    protected: bool = False
    node: str | None = None  # set for node-local storages such as `local`

    def volid(self, storage_type: str) -> str:
        stamp = time.gmtime(self.ctime)
        if storage_type == "pbs":
            iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", stamp)
            return f"{self.storage}:backup/{'vm' if self.kind == 'qemu' else 'ct'}/{self.vmid}/{iso}"
        fname = time.strftime("%Y_%m_%d-%H_%M_%S", stamp)
        ext = "vma.zst" if self.kind == "qemu" else "tar.zst"
        return f"{self.storage}:backup/vzdump-{self.kind}-{self.vmid}-{fname}.{ext}"


@dataclass
class User:
    userid: str  # user@realm
    password: str
    privs: frozenset[str]


@dataclass
class Token:
    user: str
    tokenid: str
    secret: str
    privs: frozenset[str]  # privsep=1: only what the token itself was granted

    @property
    def full_id(self) -> str:
        return f"{self.user}!{self.tokenid}"


@dataclass
class Cluster:
    """One Proxmox endpoint: a cluster (or a standalone node) with its own port."""

    name: str
    index: int
    version: str = "9.1.4"
    standalone: bool = False
    nodes: dict[str, Node] = field(default_factory=dict)
    guests: dict[int, Guest] = field(default_factory=dict)
    storages: dict[str, Storage] = field(default_factory=dict)
    backups: list[BackupVolume] = field(default_factory=list)
    pools: dict[str, str | None] = field(default_factory=dict)  # poolid -> comment
    backup_jobs: list[dict[str, Any]] = field(default_factory=list)
    replication_jobs: list[dict[str, Any]] = field(default_factory=list)
    ha_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    ha_rules: list[dict[str, Any]] = field(default_factory=list)
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)  # full id -> token
    corosync_version: int = 7
    repoid: str = "5f7d8ee2a1c4b3d9"
    generation: int = 0
    allocator: Any = field(default=None, repr=False)  # AddressAllocator for added guests
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def vt(self) -> tuple[int, int, int]:
        return version_tuple(self.version)

    def at_least(self, major: int, minor: int = 0, patch: int = 0) -> bool:
        return self.vt >= (major, minor, patch)

    def touch(self) -> None:
        """Mark the estate changed (invalidates cached answers)."""
        self.generation += 1

    def node_names(self) -> list[str]:
        return list(self.nodes)

    def online_node_names(self) -> list[str]:
        return [n.name for n in self.nodes.values() if n.online]

    def guests_on(self, node: str, kind: GuestKind | None = None) -> list[Guest]:
        return [
            g for g in self.guests.values() if g.node == node and (kind is None or g.kind == kind)
        ]

    def storage_nodes(self, storage: Storage) -> list[str]:
        return storage.nodes if storage.nodes is not None else self.node_names()

    def next_vmid(self) -> int:
        return max(self.guests, default=99) + 1


@dataclass
class Estate:
    clusters: list[Cluster]
    seed: int = 0

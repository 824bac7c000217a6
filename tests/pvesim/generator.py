"""Seeded, deterministic estate generation.

Same seed and same spec give byte-identical answers. The first guests of every
cluster are the awkward cases a sync engine must survive (templates, stopped VMs,
agent off, 0 and 24 NICs, VLAN trunks, DHCP containers, duplicate and very long
names, a backup lock); the rest is a seeded mix of the same ingredients.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable

from .addressing import AddressAllocator
from .cluster_config import populate_cluster_config
from .estate import (
    BackupVolume,
    Cluster,
    Disk,
    Guest,
    HAConfig,
    Nic,
    Snapshot,
    Token,
    User,
)
from .nodes import make_node, make_storages
from .privileges import ADMIN, AUDITOR, NONE

# A fixed "now" keeps the estate reproducible; live counters (uptime) add real time.
EPOCH = 1746119108  # 2025-05-01T17:05:08Z, the reference fixtures' clock
ROLES = ["web", "db", "app", "cache", "mq", "build", "mon", "proxy", "k8s", "git"]
TAGS = ["prod", "web", "db", "infra", "dns", "k8s", "backup-daily", "team-a", "Team-B"]
VLANS = [10, 20, 30, 100, 200]
LONG_NAME = (
    "this-is-a-very-long-guest-hostname-that-fills-a-whole-dns-label-x"[:63]
    + ".with-a-subdomain.and-another-one.example.internal"
)
DEFAULT_PASSWORD = "pvesim"


class GuestFactory:
    """Builds guests for one cluster, sharing its RNG and address allocator."""

    def __init__(self, cluster: Cluster, rng: random.Random, alloc: AddressAllocator) -> None:
        self.cluster = cluster
        self.rng = rng
        self.alloc = alloc
        self.nodes = cluster.node_names()

    def nic(self, index: int, kind: str, *, tag: int | None = None, dhcp: bool = False) -> Nic:
        nic = Nic(index=index, mac=self.alloc.next_mac(), tag=tag)
        nic.bridge = "vmbr0" if index % 4 != 3 else "vmbr1"
        nic.firewall = index == 0
        if dhcp:
            nic.ipv4 = "dhcp"
            nic.ipv6 = "auto"
            nic.dhcp_lease = self.alloc.next_cidr4()[0]
        else:
            nic.ipv4, nic.gw4 = self.alloc.next_cidr4()
            if self.rng.random() < 0.6:
                nic.ipv6, nic.gw6 = self.alloc.ipv6_for(nic.ipv4)
        if kind == "qemu":
            nic.model = "virtio" if self.rng.random() < 0.85 else "e1000"
        return nic

    def disks(self, guest: Guest) -> None:
        vmid = guest.vmid
        shared_ok = "ceph-vm" in self.cluster.storages
        store = "ceph-vm" if vmid % 2 and shared_ok else "local-lvm"
        if guest.kind == "lxc":
            guest.disks.append(Disk("rootfs", store, f"vm-{vmid}-disk-0", "8G"))
            if vmid % 3 == 0:
                guest.disks.append(
                    Disk("mp0", store, f"vm-{vmid}-disk-1", "2G", {"backup": "1"}, "/srv/data")
                )
            return
        opts = {"discard": "on", "iothread": "1", "ssd": "1"}
        bus = ["scsi", "scsi", "virtio", "sata"][vmid % 4]
        guest.disks.append(Disk(f"{bus}0", store, f"vm-{vmid}-disk-0", "32G", opts))
        n = 1
        if vmid % 5 == 0:
            guest.disks.append(Disk("scsi1", store, f"vm-{vmid}-disk-{n}", "100G", {"backup": "0"}))
            n += 1
        if vmid % 11 == 0:
            guest.disks.append(Disk("ide0", "local-lvm", f"vm-{vmid}-disk-{n}", "4G"))
            n += 1
        if guest.bios == "ovmf":
            efi = {"efitype": "4m", "pre-enrolled-keys": "1"}
            guest.disks.append(Disk("efidisk0", store, f"vm-{vmid}-disk-{n}", "528K", efi))
            guest.disks.append(
                Disk("tpmstate0", store, f"vm-{vmid}-disk-{n + 1}", "4M", {"version": "v2.0"})
            )
        if vmid % 13 == 0:
            guest.disks.append(Disk("unused0", store, f"vm-{vmid}-disk-9", "10G"))
        guest.cdrom = "local:iso/debian-12.7.0-amd64-netinst.iso" if vmid % 3 == 0 else "none"

    def guest(self, i: int, kind: str | None = None) -> Guest:
        rng = self.rng
        kind = kind or ("lxc" if rng.random() < 0.3 else "qemu")
        vmid = 100 + i
        role = ROLES[i % len(ROLES)]
        name = f"{'ct' if kind == 'lxc' else 'vm'}-{role}-{i:04d}"
        node = self.nodes[i % len(self.nodes)]
        g = Guest(vmid=vmid, kind=kind, name=name, node=node)  # type: ignore[arg-type]
        g.status = "stopped" if rng.random() < 0.15 else "running"
        g.tags = sorted(rng.sample(TAGS, rng.randint(0, 3)), key=str.lower)
        g.cores = rng.choice([1, 2, 4, 8])
        g.memory_mib = rng.choice([512, 1024, 2048, 4096, 8192])
        g.onboot = rng.random() < 0.7
        g.smbios_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if kind == "qemu":
            g.agent = rng.random() < 0.8
            g.agent_running = rng.random() < 0.9
            g.bios = "ovmf" if rng.random() < 0.3 else "seabios"
            g.machine = "q35" if g.bios == "ovmf" else None
            g.ostype = rng.choice(["l26", "l26", "l26", "win11"])
            g.balloon_mib = g.memory_mib // 2 if rng.random() < 0.5 else None
        else:
            g.ostype = rng.choice(["debian", "ubuntu", "alpine"])
        nic_count = rng.choice([1, 1, 1, 1, 2, 3])
        for n in range(nic_count):
            tag = rng.choice(VLANS) if rng.random() < 0.4 else None
            dhcp = kind == "lxc" and rng.random() < 0.2
            g.nics.append(self.nic(n, kind, tag=tag, dhcp=dhcp))
        self.disks(g)
        if i % 7 == 0:
            self.snapshots(g, rng.randint(1, 3))
        if i % 4 == 0:
            g.pool = "production"
        elif i % 4 == 1:
            g.pool = "lab"
        return g

    def snapshots(self, g: Guest, count: int) -> None:
        parent: str | None = None
        for s in range(count):
            snap = Snapshot(
                name=["baseline", "pre-upgrade", "pre-deploy"][s % 3] + ("" if s < 3 else str(s)),
                snaptime=EPOCH - (count - s) * 86400,
                description="" if s == 0 else f"before change {s}",
                vmstate=g.kind == "qemu" and s == 0 and g.running,
                parent=parent,
            )
            g.snapshots.append(snap)
            parent = snap.name


def _awkward_cases(f: GuestFactory) -> list[Callable[[Guest], None]]:
    """Edits applied to the first guests of a cluster, in order."""

    def web01(g: Guest) -> None:
        g.kind, g.name, g.status, g.agent, g.agent_running = "qemu", "web01", "running", True, True
        g.tags, g.bios, g.machine, g.pool = ["prod", "web"], "ovmf", "q35", "production"
        g.description = "Public web frontend\nOwner: team-web – ünïcødé ✓"
        g.nics = [f.nic(0, "qemu", tag=10), f.nic(1, "qemu"), f.nic(2, "qemu", tag=20)]
        g.ha = HAConfig(state="started", group=f"prefer-{g.node}", comment="web01")

    def stopped(g: Guest) -> None:
        g.kind, g.name, g.status = "qemu", "build01", "stopped"

    def template(g: Guest) -> None:
        g.kind, g.name, g.status, g.template = "qemu", "tmpl-debian12", "stopped", True
        g.snapshots, g.pool = [], None

    def dhcp_ct(g: Guest) -> None:
        g.kind, g.name, g.status, g.ostype, g.agent = "lxc", "dns01", "running", "debian", False
        g.tags = ["dns", "infra"]
        g.nics = [f.nic(0, "lxc", tag=10), f.nic(1, "lxc", dhcp=True)]
        g.ha = HAConfig(state="started", max_restart=2)
        g.nameserver, g.searchdomain = "1.1.1.1 9.9.9.9", "example.com"

    def many_nics(g: Guest) -> None:
        g.kind, g.name, g.status, g.agent, g.agent_running = "qemu", "router01", "running", True, True
        g.nics = [f.nic(n, "qemu", tag=None if n % 3 == 0 else VLANS[n % 5]) for n in range(24)]
        g.nics[0].trunks = [10, 20, 30]
        g.nics[3].trunks = [100, 200]

    def no_nics(g: Guest) -> None:
        g.kind, g.name, g.nics, g.status = "qemu", "airgap01", [], "running"

    def agent_off(g: Guest) -> None:
        g.kind, g.name, g.status, g.agent = "qemu", "legacy01", "running", False

    def agent_dead(g: Guest) -> None:
        g.kind, g.name, g.status, g.agent, g.agent_running = "qemu", "win01", "running", True, False
        g.ostype = "win11"

    def duplicate_name(g: Guest) -> None:
        g.kind, g.name, g.status = "qemu", "legacy01", "running"

    def stopped_ct(g: Guest) -> None:
        g.kind, g.name, g.status = "lxc", "ct-batch01", "stopped"
        g.nics = [f.nic(0, "lxc", dhcp=True)]

    def long_name(g: Guest) -> None:
        g.name = LONG_NAME

    def backup_lock(g: Guest) -> None:
        g.kind, g.name, g.status, g.lock, g.tags = "qemu", "db01", "running", "backup", ["db", "prod"]

    return [
        web01,
        stopped,
        template,
        dhcp_ct,
        many_nics,
        no_nics,
        agent_off,
        agent_dead,
        duplicate_name,
        stopped_ct,
        long_name,
        backup_lock,
    ]


def _kind_fixups(f: GuestFactory, g: Guest) -> None:
    """Re-derive kind-dependent parts after an awkward case switched the kind."""
    if g.kind == "lxc":
        g.agent = False
        g.ostype = g.ostype if g.ostype in ("debian", "ubuntu", "alpine") else "debian"
        g.bios, g.machine = "seabios", None
    elif g.ostype in ("debian", "ubuntu", "alpine"):
        g.ostype = "l26"
    g.disks, g.cdrom = [], None
    f.disks(g)


def populate_guests(cluster: Cluster, count: int, rng: random.Random, alloc: AddressAllocator,
                    lxc_share: float = 0.3) -> None:
    f = GuestFactory(cluster, rng, alloc)
    awkward = _awkward_cases(f)
    for i in range(count):
        kind = "lxc" if rng.random() < lxc_share else "qemu"
        g = f.guest(i, kind)
        if i < len(awkward):
            awkward[i](g)
            _kind_fixups(f, g)
        if g.running:
            g.started_at = time.time() - rng.randint(600, 90 * 86400)
            g.pid = 10000 + g.vmid
        if i >= len(awkward) and not g.template and rng.random() < 0.1:
            g.ha = HAConfig(state="started" if g.running else "stopped", group=f"prefer-{g.node}")
        cluster.guests[g.vmid] = g
    _backups(cluster, rng)


def _backups(cluster: Cluster, rng: random.Random) -> None:
    for g in cluster.guests.values():
        if g.template:
            continue
        if g.vmid % 3 == 0 and "pbs01" in cluster.storages:
            cluster.backups.append(
                BackupVolume("pbs01", g.vmid, g.kind, EPOCH - 61200 - g.vmid, rng.randint(1, 64) << 28,
                             notes=f"{g.name} nightly", protected=g.vmid % 9 == 0)
            )
        if g.vmid % 5 == 0:
            cluster.backups.append(
                BackupVolume("local", g.vmid, g.kind, EPOCH - 7 * 86400 - g.vmid,
                             rng.randint(1, 16) << 26, node=g.node)
            )


def populate_access(cluster: Cluster, rng: random.Random) -> None:
    def secret() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    cluster.users["root@pam"] = User("root@pam", DEFAULT_PASSWORD, ADMIN)
    cluster.users["audit@pve"] = User("audit@pve", DEFAULT_PASSWORD, AUDITOR)
    for user, tokenid, privs in (
        ("root@pam", "sync", ADMIN),
        ("audit@pve", "ro", AUDITOR),
        ("root@pam", "empty", NONE),  # privsep token nobody granted anything
    ):
        token = Token(user, tokenid, secret(), privs)
        cluster.tokens[token.full_id] = token


def build_cluster(index: int, name: str, *, nodes: int | list[str], guests: int, seed: int,
                  version: str = "9.1.4", standalone: bool = False,
                  lxc_share: float = 0.3) -> Cluster:
    rng = random.Random(f"pvesim:{seed}:{index}")
    cluster = Cluster(name=name, index=index, version=version, standalone=standalone)
    cluster.repoid = f"{rng.getrandbits(64):016x}"
    names = nodes if isinstance(nodes, list) else [
        f"{'pve' if not standalone else name}{n + 1 if not standalone else ''}" for n in range(nodes)
    ]
    for n, node_name in enumerate(names):
        cluster.nodes[node_name] = make_node(index, n, node_name, rng, standalone)
    cluster.storages.update(make_storages(cluster))
    cluster.pools = {"production": "prod workloads", "lab": None, "archive": "Älteres – ünïcødé"}
    populate_access(cluster, rng)
    cluster.allocator = AddressAllocator(index)
    populate_guests(cluster, guests, rng, cluster.allocator, lxc_share)
    populate_cluster_config(cluster)
    return cluster

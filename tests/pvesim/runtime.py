"""Per-endpoint runtime state: the cluster model plus tasks, faults, counters and caches.

Both the HTTP layer and the in-process test handle go through this object; the
mutations here are the "control API" (what `/_sim/...` exposes over HTTP).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from .envelope import PveError
from .estate import Cluster, Guest
from .faults import FaultInjector, RequestCounter
from .hooks import HookEmitter
from .resources_cache import ResourcesBody, ResourcesCache
from .spec import guest_from_fields
from .tasks import TaskRegistry


@dataclass
class Settings:
    task_duration: float = 0.2  # simulated seconds a worker task runs
    auth_failure_delay: float = 0.0  # PVE sleeps 3 s on a failed auth; opt in with 3.0
    rrd_interval: float = 10.0  # pvestatd refresh: /cluster/resources stats lag this much


@dataclass
class ClusterRuntime:
    cluster: Cluster
    seed: int = 0
    settings: Settings = field(default_factory=Settings)
    hooks: HookEmitter = field(default_factory=HookEmitter)
    counter: RequestCounter = field(default_factory=RequestCounter)
    faults: FaultInjector = field(init=False)
    tasks: TaskRegistry = field(init=False)
    secret: bytes = field(init=False)
    _cache: dict[tuple[Any, ...], ResourcesBody] = field(default_factory=dict)
    _rows: ResourcesCache = field(default_factory=ResourcesCache)

    def __post_init__(self) -> None:
        self.faults = FaultInjector(self.seed)
        self.tasks = TaskRegistry(self.cluster)
        self.secret = hashlib.sha256(f"pvesim:{self.seed}:{self.cluster.name}".encode()).digest()

    # -- reading -----------------------------------------------------------------
    @property
    def local_node(self) -> str:
        """The node whose pveproxy answers; the first online one."""
        online = self.cluster.online_node_names()
        return online[0] if online else self.cluster.node_names()[0]

    def advance(self) -> None:
        with self.cluster.lock:
            self.tasks.advance()

    def resources_body(self, kind: str | None, see_guests: bool,
                       gzipped: bool = True) -> tuple[bytes, bytes | None]:
        """Serialised (plain, gzip or None) `/cluster/resources` envelope, cached per estate
        change and per RRD interval: the answer for 10k guests is built once, served many
        times. Stats are those of the interval's start, as pvestatd would have sent them;
        a rebuild re-renders only the guests that changed (`ResourcesCache`), and the
        gzip copy is only made for a client that accepts it."""
        tick = int(time.time() // self.settings.rrd_interval)
        key = (self.cluster.generation, kind, see_guests, tick)
        with self.cluster.lock:
            body = self._cache.get(key)
            if body is None:
                body = self._rows.build(self.cluster, kind, see_guests,
                                        tick * self.settings.rrd_interval)
                if len(self._cache) > 16:
                    self._cache.clear()
                self._cache[key] = body
            return body.plain, self._rows.gzip(body) if gzipped else None

    # -- mutations (the control API) -----------------------------------------------
    def guest(self, vmid: int) -> Guest:
        guest = self.cluster.guests.get(vmid)
        if guest is None:
            raise PveError(500, f"VM {vmid} does not exist (simulator)")
        return guest

    def add_guest(self, **fields: Any) -> Guest:
        with self.cluster.lock:
            if fields.get("vmid") in self.cluster.guests:
                raise PveError(500, f"VM {fields['vmid']} already exists")
            guest = guest_from_fields(self.cluster, fields)
            self.cluster.guests[guest.vmid] = guest
            self.cluster.touch()
            return guest

    def remove_guest(self, vmid: int) -> None:
        with self.cluster.lock:
            self.guest(vmid)
            del self.cluster.guests[vmid]
            self.cluster.touch()

    def update_guest(self, vmid: int, **changes: Any) -> Guest:
        """Change guest fields directly (what happens behind the API's back)."""
        with self.cluster.lock:
            guest = self.guest(vmid)
            for key, value in changes.items():
                if key == "status":
                    self.set_power(guest, str(value), emit_hooks=False)
                elif key == "node":
                    if value not in self.cluster.nodes:
                        raise PveError(500, f"no such cluster node '{value}'")
                    guest.node = value
                elif key == "tags" and isinstance(value, str):
                    guest.tags = [t for t in value.split(";") if t]
                elif hasattr(guest, key) and key not in ("vmid", "kind"):
                    setattr(guest, key, value)
                else:
                    raise PveError(400, f"unknown guest field '{key}'")
            self.cluster.touch()
            return guest

    def set_guest_ip(self, vmid: int, ip: str, nic: int = 0, ip6: str | None = None) -> None:
        with self.cluster.lock:
            target = self.guest(vmid).nic_by_index(nic)
            if target.ipv4 == "dhcp":
                target.dhcp_lease = ip
            else:
                target.ipv4 = ip
            if ip6 is not None:
                target.ipv6 = ip6
            self.cluster.touch()

    def set_power(self, guest: Guest, status: str, emit_hooks: bool = True) -> None:
        before = guest.status
        if status == before:
            return
        if emit_hooks and status == "running":
            self.hook(guest, "pre-start")
        if emit_hooks and before == "running":
            self.hook(guest, "pre-stop")
        guest.status = status
        if status == "running":
            guest.started_at = time.time()
            guest.pid = 10000 + guest.vmid + int(time.time()) % 1000
        else:
            guest.started_at, guest.pid = 0.0, 0
        self.cluster.touch()
        if emit_hooks and status == "running":
            self.hook(guest, "post-start")
        if emit_hooks and before == "running":
            self.hook(guest, "post-stop")

    def hook(self, guest: Guest, phase: str, migrated_from: str | None = None) -> None:
        self.hooks.emit(cluster=self.cluster.name, node=guest.node, vmid=guest.vmid,
                        kind=guest.kind, phase=phase, migrated_from=migrated_from)

    def set_node_online(self, node: str, online: bool, *, status: int = 595,
                        delay: float = 0.0, rrd_expired: bool = False) -> None:
        with self.cluster.lock:
            target = self.cluster.nodes.get(node)
            if target is None:
                raise PveError(500, f"no such cluster node '{node}'")
            target.online = online
            target.offline_status = status
            target.offline_delay = delay
            target.rrd_expired = rrd_expired and not online
            self.cluster.touch()

"""`SimEndpoint`: the in-process handle of one simulated Proxmox endpoint.

Tests get one per cluster. It carries the connection facts (host, port,
credentials), builds clients, and mutates the estate behind the API's back the
way the real world does (someone renames a VM, a node dies, the network is slow).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .estate import Cluster, Guest
from .faults import FaultRule
from .generator import DEFAULT_PASSWORD
from .runtime import ClusterRuntime


@dataclass
class SimEndpoint:
    runtime: ClusterRuntime
    host: str
    port: int
    user: str = "root@pam"
    password: str = DEFAULT_PASSWORD
    token_name: str = "sync"

    # -- connection facts ------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.runtime.cluster.name

    @property
    def cluster(self) -> Cluster:
        return self.runtime.cluster

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}/api2/json"

    @property
    def token_id(self) -> str:
        return f"{self.user}!{self.token_name}"

    @property
    def token_secret(self) -> str:
        return self.cluster.tokens[self.token_id].secret

    def token(self, full_id: str) -> tuple[str, str]:
        """(`USER@REALM!TOKENID`, secret) of any seeded token, e.g. `audit@pve!ro`."""
        return full_id, self.cluster.tokens[full_id].secret

    def credentials(self) -> dict[str, Any]:
        """The JSON line the CLI prints for this endpoint."""
        return {"name": self.name, "host": self.host, "port": self.port, "user": self.user,
                "password": self.password, "token_id": self.token_id,
                "token_secret": self.token_secret}

    def proxmox(self, auth: str = "token", *, token: str | None = None, user: str | None = None,
                password: str | None = None, **kwargs: Any) -> Any:
        """A proxmoxer `ProxmoxAPI` (https, verify_ssl off) with ticket or token auth."""
        from proxmoxer import ProxmoxAPI

        options: dict[str, Any] = {"port": self.port, "verify_ssl": False, "backend": "https",
                                   "timeout": 10, **kwargs}
        if auth == "ticket":
            return ProxmoxAPI(self.host, user=user or self.user,
                              password=password or self.password, **options)
        full_id = token or self.token_id
        userid, token_name = full_id.split("!", 1)
        return ProxmoxAPI(self.host, user=userid, token_name=token_name,
                          token_value=self.cluster.tokens[full_id].secret, **options)

    def auth_header(self, token: str | None = None) -> dict[str, str]:
        full_id, secret = self.token(token or self.token_id)
        return {"Authorization": f"PVEAPIToken={full_id}={secret}"}

    # -- request accounting and misbehaviour -------------------------------------------
    def request_count(self, path: str = "*", method: str = "*") -> int:
        """API requests whose path (relative to /api2/json) matches the glob."""
        return self.runtime.counter.count(path, method)

    @property
    def requests(self) -> dict[str, int]:
        """`{"GET /cluster/resources": 3, ...}`."""
        return self.runtime.counter.snapshot()

    def reset_counts(self) -> None:
        self.runtime.counter.reset()

    def set_latency(self, seconds: float) -> None:
        self.runtime.faults.latency = seconds

    def inject_fault(self, path: str = "*", method: str = "*", status: int = 500,
                     message: str = "", latency: float = 0.0, rate: float = 1.0,
                     times: int | None = None) -> FaultRule:
        """Fail (or, with status=0, only slow down) matching requests.

        status 595/596 mimic an unreachable node (empty body); a large `latency`
        makes the client time out.
        """
        return self.runtime.faults.add(FaultRule(path=path, method=method, status=status,
                                                 message=message, latency=latency, rate=rate,
                                                 remaining=times))

    def clear_faults(self) -> None:
        self.runtime.faults.clear()

    def fail_next_task(self, message: str, task_type: str = "*") -> None:
        """The next task of that type ends with `exitstatus` = message."""
        with self.cluster.lock:
            self.runtime.tasks.fail_next.setdefault(task_type, []).append(message)

    def set_task_duration(self, seconds: float) -> None:
        self.runtime.settings.task_duration = seconds

    def set_hook_url(self, url: str | None, *, endpoint: str | None = None,
                     secret: str | None = None) -> None:
        """Send hook events to ``url``; with ``endpoint`` and ``secret``, signed like proxbox-hook."""
        self.runtime.hooks.url = url
        self.runtime.hooks.endpoint = endpoint
        self.runtime.hooks.secret = secret

    @property
    def hooks_sent(self) -> list[dict[str, Any]]:
        return list(self.runtime.hooks.sent)

    # -- estate mutations --------------------------------------------------------------
    def guest(self, vmid: int) -> Guest:
        self.runtime.advance()
        return self.runtime.guest(vmid)

    def guests(self) -> list[Guest]:
        self.runtime.advance()
        return sorted(self.cluster.guests.values(), key=lambda g: g.vmid)

    def add_guest(self, **fields: Any) -> Guest:
        """e.g. `add_guest(kind="lxc", name="new01", node="pve2", nics=[{"ip": "dhcp"}])`."""
        return self.runtime.add_guest(**fields)

    def remove_guest(self, vmid: int) -> None:
        self.runtime.remove_guest(vmid)

    def update_guest(self, vmid: int, **changes: Any) -> Guest:
        return self.runtime.update_guest(vmid, **changes)

    def rename_guest(self, vmid: int, name: str) -> None:
        self.runtime.update_guest(vmid, name=name)

    def set_guest_ip(self, vmid: int, ip: str, nic: int = 0, ip6: str | None = None) -> None:
        self.runtime.set_guest_ip(vmid, ip, nic, ip6)

    def stop_guest(self, vmid: int) -> None:
        self.runtime.update_guest(vmid, status="stopped")

    def start_guest(self, vmid: int) -> None:
        self.runtime.update_guest(vmid, status="running")

    def move_guest(self, vmid: int, node: str) -> None:
        """Relocate instantly (what an HA recovery looks like from outside)."""
        self.runtime.update_guest(vmid, node=node)

    def set_node_online(self, node: str, online: bool = True, *, status: int = 595,
                        delay: float = 0.0, rrd_expired: bool = False) -> None:
        self.runtime.set_node_online(node, online, status=status, delay=delay,
                                     rrd_expired=rrd_expired)

    def take_node_offline(self, node: str, status: int = 595, delay: float = 0.0,
                          rrd_expired: bool = False) -> None:
        self.set_node_online(node, False, status=status, delay=delay, rrd_expired=rrd_expired)

    def wait_tasks(self, timeout: float = 10.0) -> None:
        """Block until no task is running (tasks finish on simulated time)."""
        deadline = time.monotonic() + timeout
        while True:
            self.runtime.advance()
            if not self.runtime.tasks.running():
                return
            if time.monotonic() > deadline:
                raise TimeoutError("simulated tasks still running")
            time.sleep(0.02)

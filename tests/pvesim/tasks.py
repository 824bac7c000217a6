"""Worker tasks and UPIDs.

A task runs for simulated wall-clock time (`duration`) and is finalised lazily:
whenever anyone looks at the cluster (a request, or the in-process handle),
`advance()` completes every task whose time is up and applies its effect (the VM
is now running, the guest moved node...). No timers or threads are needed and
the outcome does not depend on scheduling.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .estate import Cluster

# finish(task) -> None on success or the error text that becomes `exitstatus`.
Finisher = Callable[["Task"], "str | None"]


@dataclass
class Task:
    upid: str
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str
    tokenid: str | None
    ends_at: float
    finish: Finisher | None = None
    abort: Callable[[Task], None] | None = None  # undo side effects (locks) on interrupt
    log: list[str] = field(default_factory=list)
    status: str = "running"
    exitstatus: str | None = None
    endtime: int | None = None
    saved: bool = False

    def status_object(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "upid": self.upid, "node": self.node, "pid": self.pid, "pstart": self.pstart,
            "starttime": self.starttime, "type": self.type, "id": self.id, "user": self.user,
            "status": self.status,
        }
        if self.tokenid:
            out["tokenid"] = self.tokenid
        if self.status == "stopped":
            out["exitstatus"] = self.exitstatus
        return out

    def list_entry(self, *, cluster_view: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "upid": self.upid, "node": self.node, "starttime": self.starttime,
            "type": self.type, "id": self.id, "user": self.user,
        }
        if self.tokenid:
            out["tokenid"] = self.tokenid
        if self.status == "running":
            out["pid"] = self.pid
            if not cluster_view:
                out["pstart"] = self.pstart
        else:
            out["endtime"] = self.endtime
            out["status"] = self.exitstatus
            if not cluster_view:
                out["pid"], out["pstart"] = self.pid, self.pstart
        if cluster_view:
            out["saved"] = "1" if self.saved else "0"  # a string, as pmxcfs stores it
        return out


def make_upid(node: str, pid: int, pstart: int, starttime: int, kind: str, ident: str,
              user: str) -> str:
    return f"UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{kind}:{ident}:{user}:"


class TaskRegistry:
    def __init__(self, cluster: Cluster, clock: Callable[[], float] = time.time) -> None:
        self.cluster = cluster
        self.clock = clock
        self.tasks: dict[str, Task] = {}
        self._next_pid = 0x3A1F2
        # Injected failures: task type (or "*") -> error texts, consumed in order.
        self.fail_next: dict[str, list[str]] = {}
        self._seed_history()

    def _seed_history(self) -> None:
        """A night of backups per node, so task lists are never empty."""
        for node in self.cluster.node_names():
            for n, guest in enumerate(self.cluster.guests_on(node)[:2]):
                start = 1746057600 + n * 300
                task = self._new(node, "vzdump", str(guest.vmid), "root@pam", None, start)
                task.status, task.exitstatus, task.endtime, task.saved = "stopped", "OK", start + 128, True
                task.log = [f"INFO: starting new backup job: vzdump {guest.vmid}",
                            "INFO: Finished Backup of VM", "TASK OK"]

    def _new(self, node: str, kind: str, ident: str, userid: str, tokenid: str | None,
             starttime: int) -> Task:
        self._next_pid += 0x19
        pid = self._next_pid
        pstart = 0x0B2C4D5E + (pid & 0xFFFF)
        user = f"{userid}!{tokenid}" if tokenid else userid
        upid = make_upid(node, pid, pstart, starttime, kind, ident, user)
        task = Task(upid, node, pid, pstart, starttime, kind, ident, userid, tokenid,
                    ends_at=float(starttime))
        self.tasks[upid] = task
        return task

    def start(self, node: str, kind: str, ident: str, userid: str, tokenid: str | None,
              duration: float, finish: Finisher | None, log: list[str] | None = None) -> Task:
        now = self.clock()
        task = self._new(node, kind, ident, userid, tokenid, int(now))
        task.ends_at = now + duration
        task.finish = finish
        task.log = list(log or [])
        return task

    def _injected_failure(self, kind: str) -> str | None:
        for key in (kind, "*"):
            queue = self.fail_next.get(key)
            if queue:
                return queue.pop(0)
        return None

    def complete(self, task: Task, error: str | None = None) -> None:
        if task.status != "running":
            return
        if error is None:
            error = self._injected_failure(task.type)
        if error is None and task.finish is not None:
            error = task.finish(task)
        task.status = "stopped"
        task.endtime = int(self.clock())
        task.saved = True
        task.exitstatus = "OK" if error is None else error
        task.log.append("TASK OK" if error is None else f"TASK ERROR: {error}")
        self.cluster.touch()

    def advance(self) -> None:
        """Finish every task whose simulated time is up (caller holds the cluster lock)."""
        now = self.clock()
        due = [t for t in self.tasks.values() if t.status == "running" and t.ends_at <= now]
        for task in sorted(due, key=lambda t: t.ends_at):
            self.complete(task)

    def interrupt(self, task: Task) -> None:
        """`DELETE /nodes/{node}/tasks/{upid}`: SIGTERM; the task ends without its effect."""
        if task.status == "running":
            task.finish = None
            if task.abort is not None:
                task.abort(task)
            self.complete(task, error="received interrupt")

    def running(self) -> list[Task]:
        return [t for t in self.tasks.values() if t.status == "running"]

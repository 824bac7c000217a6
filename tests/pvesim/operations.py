"""Guest operations that run as worker tasks: power, snapshots, migration.

Each public function validates synchronously (400/500 like the API handler) and
returns a UPID; the effect is applied when the task completes, where the checks
that PVE performs inside the worker (already running, locked, missing snapshot)
turn into the task's `exitstatus`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .auth import Identity
from .envelope import PveError, param_error
from .estate import Guest, Snapshot
from .params import boolean, required, snapname
from .runtime import ClusterRuntime
from .tasks import Task

TASK_TYPES = {
    ("qemu", "start"): "qmstart", ("qemu", "stop"): "qmstop",
    ("qemu", "shutdown"): "qmshutdown", ("qemu", "reboot"): "qmreboot",
    ("lxc", "start"): "vzstart", ("lxc", "stop"): "vzstop",
    ("lxc", "shutdown"): "vzshutdown", ("lxc", "reboot"): "vzreboot",
}


def _label(guest: Guest) -> str:
    return "VM" if guest.kind == "qemu" else "CT"


def _start_task(rt: ClusterRuntime, ident: Identity, guest: Guest, kind: str,
                finish: Callable[[Task], str | None], factor: float = 1.0,
                log: list[str] | None = None, as_root: bool = False) -> Task:
    userid, tokenid = ("root@pam", None) if as_root else (ident.userid, ident.tokenid)
    return rt.tasks.start(guest.node, kind, str(guest.vmid), userid, tokenid,
                          rt.settings.task_duration * factor, finish, log)


def _live(rt: ClusterRuntime, vmid: int, node: str, kind: str = "qemu") -> Guest | str:
    """The guest when the task runs, or the error a vanished guest gives."""
    guest = rt.cluster.guests.get(vmid)
    if guest is None:
        where = "qemu-server" if kind == "qemu" else "lxc"
        return f"Configuration file 'nodes/{node}/{where}/{vmid}.conf' does not exist"
    return guest


def power(rt: ClusterRuntime, ident: Identity, guest: Guest, action: str) -> str:
    real_type = TASK_TYPES[(guest.kind, action)]
    vmid, node, kind = guest.vmid, guest.node, guest.kind

    def run(task: Task) -> str | None:
        live = _live(rt, vmid, node, kind)
        if isinstance(live, str):
            return live
        label = _label(live)
        if live.lock:
            return f"{label} is locked ({live.lock})"
        if action == "start":
            if live.template:
                return "you can't start a vm if it's a template"
            if live.running:
                return f"{label} {vmid} already running"
            rt.set_power(live, "running")
        elif live.status == "paused" and action == "shutdown":
            return "VM is paused - cannot shutdown"
        elif not live.running:
            return f"{label} {vmid} not running"
        elif action == "reboot":
            rt.set_power(live, "stopped")
            rt.set_power(live, "running")
        else:
            rt.set_power(live, "stopped")
        return None

    if guest.ha is not None and action in ("start", "stop", "shutdown"):
        # HA: the API only asks the CRM; the LRM later runs the real task as root@pam.
        ha_type = "hastart" if action == "start" else "hastop"
        requested = "started" if action == "start" else "stopped"

        def request_state(task: Task) -> str | None:
            live = rt.cluster.guests.get(vmid)
            if live is not None and live.ha is not None:
                live.ha.state = requested
                _start_task(rt, ident, live, real_type, run, as_root=True)
            return None

        return _start_task(rt, ident, guest, ha_type, request_state, factor=0.25).upid
    return _start_task(rt, ident, guest, real_type, run).upid


def snapshot_create(rt: ClusterRuntime, ident: Identity, guest: Guest,
                    params: dict[str, Any]) -> str:
    name = snapname(required(params, "snapname"))
    vmstate = boolean(params, "vmstate") if guest.kind == "qemu" else False
    description = str(params.get("description", ""))
    vmid, node, kind = guest.vmid, guest.node, guest.kind

    def run(task: Task) -> str | None:
        live = _live(rt, vmid, node, kind)
        if isinstance(live, str):
            return live
        if any(s.name == name for s in live.snapshots):
            return f"snapshot name '{name}' already used"
        if live.lock:
            return f"{_label(live)} is locked ({live.lock})"
        live.snapshots.append(Snapshot(name=name, snaptime=int(time.time()),
                                       description=description,
                                       vmstate=vmstate and live.running,
                                       parent=live.current_parent))
        return None

    task_type = "qmsnapshot" if guest.kind == "qemu" else "vzsnapshot"
    return _start_task(rt, ident, guest, task_type, run).upid


def snapshot_delete(rt: ClusterRuntime, ident: Identity, guest: Guest, name: str) -> str:
    vmid, node, kind = guest.vmid, guest.node, guest.kind

    def run(task: Task) -> str | None:
        live = _live(rt, vmid, node, kind)
        if isinstance(live, str):
            return live
        snap = next((s for s in live.snapshots if s.name == name), None)
        if snap is None:
            return f"snapshot '{name}' does not exist"
        for child in live.snapshots:
            if child.parent == name:
                child.parent = snap.parent
        live.snapshots.remove(snap)
        return None

    task_type = "qmdelsnapshot" if guest.kind == "qemu" else "vzdelsnapshot"
    return _start_task(rt, ident, guest, task_type, run).upid


def snapshot_rollback(rt: ClusterRuntime, ident: Identity, guest: Guest, name: str,
                      params: dict[str, Any]) -> str:
    start_after = boolean(params, "start")
    vmid, node, kind = guest.vmid, guest.node, guest.kind

    def run(task: Task) -> str | None:
        live = _live(rt, vmid, node, kind)
        if isinstance(live, str):
            return live
        snap = next((s for s in live.snapshots if s.name == name), None)
        if snap is None:
            return f"snapshot '{name}' does not exist"
        if not snap.vmstate:
            rt.set_power(live, "stopped")
        if start_after:
            rt.set_power(live, "running")
        return None

    task_type = "qmrollback" if guest.kind == "qemu" else "vzrollback"
    return _start_task(rt, ident, guest, task_type, run).upid


def migrate(rt: ClusterRuntime, ident: Identity, guest: Guest, params: dict[str, Any]) -> str:
    target = required(params, "target")
    if target == guest.node:
        raise param_error({"target": "target is local node."})
    target_node = rt.cluster.nodes.get(target)
    if target_node is None:
        raise PveError(500, f"no such cluster node '{target}'")
    if not target_node.online:
        raise PveError(500, f"target node '{target}' is not online")
    online = boolean(params, "online")
    restart = boolean(params, "restart") if guest.kind == "lxc" else False
    if guest.kind == "qemu" and guest.running and not online and guest.ha is None:
        raise param_error({"online": "can't migrate running VM without --online"})
    if guest.kind == "lxc" and guest.running:
        if online:
            raise PveError(500, "lxc live migration is currently not implemented")
        if not restart:
            raise param_error({"restart": "can't migrate running container without --online "
                                          "or --restart"})
    vmid, source = guest.vmid, guest.node
    label = "VM" if guest.kind == "qemu" else "CT"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    log = [f"{stamp} starting migration of {label} {vmid} to node '{target}' ({target_node.ip})"]
    if guest.kind == "qemu" and not guest.running:
        log.append(f"{stamp} VM isn't running. Doing offline migration instead.")

    def run(task: Task) -> str | None:
        live = _live(rt, vmid, source, guest.kind)
        if isinstance(live, str):
            return live
        if live.lock not in (None, "migrate"):
            return f"{_label(live)} is locked ({live.lock})"
        if not rt.cluster.nodes[target].online:
            return f"migration aborted: target node '{target}' is not online"
        was_running = live.running
        if restart and was_running:
            rt.set_power(live, "stopped")
        live.lock = None
        live.node = target
        if restart and was_running:
            rt.hook(live, "pre-start", migrated_from=source)
            rt.set_power(live, "running")
        task.log.append(f"{time.strftime('%Y-%m-%d %H:%M:%S')} migration finished successfully "
                        "(duration 00:00:01)")
        return None

    def unlock(task: Task) -> None:
        live = rt.cluster.guests.get(vmid)
        if live is not None and live.lock == "migrate":
            live.lock = None

    real_type = "qmigrate" if guest.kind == "qemu" else "vzmigrate"
    if guest.ha is not None:
        def request_migration(task: Task) -> str | None:
            live = rt.cluster.guests.get(vmid)
            if live is not None:
                live.lock = "migrate"
                real = _start_task(rt, ident, live, real_type, run, 2.0, log, as_root=True)
                real.abort = unlock
            return None

        return _start_task(rt, ident, guest, "hamigrate", request_migration, 0.25).upid
    guest.lock = "migrate"
    rt.cluster.touch()
    task = _start_task(rt, ident, guest, real_type, run, 2.0, log)
    task.abort = unlock
    return task.upid

"""Operations: UPID tasks that run for simulated time and change the estate when they end."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from proxmoxer.core import ResourceException
from proxmoxer.tools import Tasks

from tests.pvesim.handle import SimEndpoint


def wait(prox: Any, upid: str) -> dict[str, Any]:
    status = Tasks.blocking_status(prox, upid, timeout=10, polling_interval=0.02)
    assert status is not None, "task did not finish"
    return status


@pytest.fixture
def prox(pve: SimEndpoint) -> Any:
    return pve.proxmox("ticket")  # ticket auth: every write also carries the CSRF header


def test_start_task_runs_then_stops_ok_and_the_vm_runs(prox: Any) -> None:
    # Given the stopped VM build01 (101 on pve2)
    upid = prox.nodes("pve2").qemu(101).status.start.post()
    # Then the UPID has PVE's shape and the task is first running
    decoded = Tasks.decode_upid(upid)
    assert (decoded["node"], decoded["type"], decoded["id"]) == ("pve2", "qmstart", "101")
    assert prox.nodes("pve2").tasks(upid).status.get()["status"] == "running"
    # When it finishes it ended OK, and the VM is running
    assert wait(prox, upid)["exitstatus"] == "OK"
    assert prox.nodes("pve2").qemu(101).status.current.get()["status"] == "running"
    assert prox.nodes("pve2").tasks(upid).log.get()[-1]["t"] == "TASK OK"


def test_starting_a_running_vm_fails_in_the_task(prox: Any) -> None:
    upid = prox.nodes("pve1").qemu(106).status.start.post()
    assert wait(prox, upid)["exitstatus"] == "VM 106 already running"
    assert prox.nodes("pve1").tasks(upid).log.get()[-1]["t"] == "TASK ERROR: VM 106 already running"


def test_stop_and_shutdown_of_qemu_and_lxc(prox: Any) -> None:
    stop = prox.nodes("pve1").qemu(106).status.stop.post()
    shutdown = prox.nodes("pve1").lxc(103).status.shutdown.post()
    assert Tasks.decode_upid(shutdown)["type"] == "hastop"  # dns01 is HA-managed
    assert wait(prox, stop)["exitstatus"] == "OK"
    assert wait(prox, shutdown)["exitstatus"] == "OK"


def test_ha_managed_start_is_a_request_then_an_lrm_task(pve: SimEndpoint, prox: Any) -> None:
    upid = prox.nodes("pve1").qemu(100).status.stop.post()
    assert Tasks.decode_upid(upid)["type"] == "hastop"
    wait(prox, upid)
    pve.wait_tasks()
    types = {(t["type"], t["user"]) for t in prox.nodes("pve1").tasks.get(vmid=100)}
    assert ("qmstop", "root@pam") in types
    assert prox.nodes("pve1").qemu(100).status.current.get()["status"] == "stopped"


def test_locked_vm_cannot_start(prox: Any, pve: SimEndpoint) -> None:
    pve.stop_guest(111)  # db01 carries a backup lock
    upid = prox.nodes("pve3").qemu(111).status.start.post()
    assert wait(prox, upid)["exitstatus"] == "VM is locked (backup)"


def test_snapshot_create_and_delete(prox: Any) -> None:
    vm = prox.nodes("pve3").qemu(105)
    upid = vm.snapshot.post(snapname="pre-deploy", description="before deploy", vmstate=0)
    assert Tasks.decode_upid(upid)["type"] == "qmsnapshot"
    assert wait(prox, upid)["exitstatus"] == "OK"
    names = [s["name"] for s in vm.snapshot.get()]
    assert names == ["pre-deploy", "current"]
    again = vm.snapshot.post(snapname="pre-deploy")
    assert wait(prox, again)["exitstatus"] == "snapshot name 'pre-deploy' already used"
    assert wait(prox, vm.snapshot("pre-deploy").delete())["exitstatus"] == "OK"
    missing = vm.snapshot("pre-deploy").delete()
    assert wait(prox, missing)["exitstatus"] == "snapshot 'pre-deploy' does not exist"


def test_invalid_snapshot_name_is_400(prox: Any) -> None:
    with pytest.raises(ResourceException) as err:
        prox.nodes("pve3").qemu(105).snapshot.post(snapname="1bad")
    assert err.value.errors == {"snapname": "invalid configuration ID '1bad'"}


def test_migrate_moves_the_guest_when_the_task_ends(pve: SimEndpoint, prox: Any) -> None:
    upid = prox.nodes("pve2").qemu(101).migrate.post(target="pve3")
    assert Tasks.decode_upid(upid)["type"] == "qmigrate"
    rows = prox.cluster.resources.get(type="vm")
    assert next(r for r in rows if r["vmid"] == 101)["lock"] == "migrate"
    assert wait(prox, upid)["exitstatus"] == "OK"
    row = next(r for r in prox.cluster.resources.get(type="vm") if r["vmid"] == 101)
    assert row["node"] == "pve3" and "lock" not in row
    log = [line["t"] for line in prox.nodes("pve2").tasks(upid).log.get()]
    assert "starting migration of VM 101 to node 'pve3'" in log[0]
    assert pve.guest(101).node == "pve3"


def test_migrate_validation_errors(prox: Any) -> None:
    with pytest.raises(ResourceException) as err:
        prox.nodes("pve1").qemu(106).migrate.post(target="pve1")
    assert err.value.errors == {"target": "target is local node."}
    with pytest.raises(ResourceException) as err:
        prox.nodes("pve1").qemu(106).migrate.post(target="pve2")  # running, no online=1
    assert err.value.status_code == 400
    with pytest.raises(ResourceException) as err:
        prox.nodes("pve1").lxc(103).migrate.post(target="pve2", online=1)
    assert err.value.content == "lxc live migration is currently not implemented"


def test_delete_stops_a_running_task(pve: SimEndpoint, prox: Any) -> None:
    pve.set_task_duration(30)
    upid = prox.nodes("pve2").qemu(101).status.start.post()
    assert prox.nodes("pve2").tasks(upid).delete() is None
    status = prox.nodes("pve2").tasks(upid).status.get()
    assert (status["status"], status["exitstatus"]) == ("stopped", "received interrupt")
    assert prox.nodes("pve2").qemu(101).status.current.get()["status"] == "stopped"


def test_injected_task_failure(pve: SimEndpoint, prox: Any) -> None:
    pve.fail_next_task("can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout",
                       "qmstart")
    upid = prox.nodes("pve2").qemu(101).status.start.post()
    assert wait(prox, upid)["exitstatus"].startswith("can't lock file")


def test_put_config_is_synchronous_and_checks_the_digest(prox: Any) -> None:
    vm = prox.nodes("pve1").qemu(106)
    digest = vm.config.get()["digest"]
    assert vm.config.put(tags="a;b", description="renamed by sync", digest=digest) is None
    config = vm.config.get()
    assert config["tags"] == "a;b" and config["digest"] != digest
    with pytest.raises(ResourceException) as err:
        vm.config.put(name="stale", digest=digest)
    assert "detected modified configuration" in err.value.content
    assert wait(prox, vm.config.post(name="legacy01-new"))["exitstatus"] == "OK"
    assert vm.config.get()["name"] == "legacy01-new"


def test_auditor_cannot_snapshot_or_migrate(pve: SimEndpoint) -> None:
    prox = pve.proxmox(token="audit@pve!ro")
    for call in (lambda: prox.nodes("pve3").qemu(105).snapshot.post(snapname="x1"),
                 lambda: prox.nodes("pve3").qemu(105).migrate.post(target="pve1")):
        with pytest.raises(ResourceException) as err:
            call()
        assert err.value.status_code == 403


class _HookReceiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _HookReceiver.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook_url() -> Iterator[str]:
    _HookReceiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _HookReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/pve"
    server.shutdown()
    server.server_close()


def test_hookscript_phases_are_posted_on_start_and_stop(pve: SimEndpoint, prox: Any,
                                                        hook_url: str) -> None:
    # Given a hookscript that pushes to our receiver
    pve.set_hook_url(hook_url)
    # When build01 is started and stopped through the API
    wait(prox, prox.nodes("pve2").qemu(101).status.start.post())
    wait(prox, prox.nodes("pve2").qemu(101).status.stop.post())
    # Then the receiver got the four phases in order
    deadline = time.monotonic() + 5
    while len(_HookReceiver.received) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    phases = sorted(_HookReceiver.received, key=lambda e: ("pre-start", "post-start",
                    "pre-stop", "post-stop").index(e["phase"]))
    assert [(e["vmid"], e["phase"]) for e in phases] == [
        (101, "pre-start"), (101, "post-start"), (101, "pre-stop"), (101, "post-stop")]
    assert all(e["node"] == "pve2" and e["cluster"] == pve.name for e in phases)

"""Diffing NetBox's read form against our write form: unchanged means an empty patch."""

from __future__ import annotations

import pytest

from shared.proxmox.retry import backoff_s, call_with_retries, transient_status
from shared.sync.catalog import Catalog
from shared.sync.diff import patch_for
from shared.sync.journal import changed_anything, render
from shared.sync.models import GuestConfig, GuestRef
from shared.sync.stale import StaleScan, too_many
from shared.sync.vm_state import VmContext, desired_vm, vm_tags

CATALOG = Catalog(
    tag_ids={"proxbox": 1, "proxbox-soft-deleted": 2, "proxbox-template": 3,
             "proxbox-discovered-qemu": 4, "proxbox-discovered-lxc": 5},
    cluster_type_ids={"cluster": 1, "standalone": 2}, manufacturer_id=1, device_type_id=1,
    node_role_id=1, vm_role_ids={"qemu": 7, "lxc": 8},
)  # fmt: skip
CTX = VmContext(3, "cl1", 10, {"pve1": 20}, CATALOG, {"prod": 30, "web": 31, "old": 32})


def test_netbox_read_form_equal_to_desired_gives_no_patch() -> None:
    current = {"id": 5, "name": "web01", "status": {"value": "active", "label": "Active"},
               "cluster": {"id": 10, "name": "cl1"}, "vcpus": 4.0, "memory": 2048,
               "tags": [{"id": 31, "slug": "web"}, {"id": 1, "slug": "proxbox"}],
               "custom_fields": {"a": 1, "other": "kept"}}  # fmt: skip
    desired = {"name": "web01", "status": "active", "cluster": 10, "vcpus": 4, "memory": 2048,
               "tags": [1, 31], "custom_fields": {"a": 1}}  # fmt: skip
    assert patch_for(current, desired) == {}
    changed = {**desired, "memory": 4096, "custom_fields": {"a": 2}}
    assert patch_for(current, changed) == {"memory": 4096, "custom_fields": {"a": 2}}


def test_desired_vm_uses_the_config_and_leaves_unknown_values_out() -> None:
    ref = GuestRef(vmid=100, type="qemu", node="pve1", netbox_name="web01", status="running",
                   maxcpu=2, maxmem=2 * 1024**3, tags=("web",))  # fmt: skip
    vm = desired_vm(ref, GuestConfig(vcpus=4, memory_mib=4096, disk_mb=None, tags=("prod",)), CTX)
    assert (vm["status"], vm["vcpus"], vm["memory"], vm["device"]) == ("active", 4, 4096, 20)
    assert "disk" not in vm and vm["custom_fields"]["proxmox_tags"] == "prod"
    unknown = desired_vm(ref.model_copy(update={"status": "unknown", "node": "gone"}), None, CTX)
    assert "status" not in unknown and "device" not in unknown and "comments" not in unknown
    assert unknown["memory"] == 2048  # from the resource listing


def test_tags_keep_what_people_added_and_drop_what_proxmox_dropped() -> None:
    ref = GuestRef(vmid=100, type="qemu", node="pve1", tags=("prod",))
    assert vm_tags(ref, None, CTX, None) == [1, 4, 30]  # discovered tag on creation only
    current = {"tags": [{"id": 1}, {"id": 4}, {"id": 32}, {"id": 99}, {"id": 2}],
               "custom_fields": {"proxmox_tags": "old"}}  # fmt: skip
    assert vm_tags(ref, None, CTX, current) == [1, 4, 30, 99]  # old and soft-deleted gone


def test_templates_are_offline_and_tagged() -> None:
    ref = GuestRef(vmid=9000, type="qemu", node="pve1", status="stopped", template=True)
    assert desired_vm(ref, None, CTX)["status"] == "offline"
    assert 3 in vm_tags(ref, None, CTX, None)


def test_the_stale_guard_refuses_mass_retirement() -> None:
    assert too_many(StaleScan(10, [{}] * 6), 0.5)
    assert not too_many(StaleScan(10, [{}] * 5), 0.5)
    assert not too_many(StaleScan(2, [{}] * 2), 0.5)  # tiny estates: deleting everything is real


def test_journal_only_when_something_changed() -> None:
    assert not changed_anything({"virtual_machine:unchanged": 5})
    assert changed_anything({"virtual_machine:soft_deleted": 1})
    assert "| virtual_machine | created | 2 |" in render("r1", "cl1", {"virtual_machine:created": 2})


@pytest.mark.parametrize(("status", "message", "transient"), [
    (503, "", True), (429, "", True), (596, "", True), (595, "", True),
    (500, "Configuration file 'x' does not exist", False), (500, "got timeout", True),
    (401, "", False), (404, "", False), (None, "", False),
])  # fmt: skip
def test_which_statuses_are_retried(status: int | None, message: str, transient: bool) -> None:
    assert transient_status(status, message) is transient


def test_retries_stop_at_the_budget_and_back_off_is_capped() -> None:
    calls, sleeps = [], []

    def flaky() -> int:
        calls.append(1)
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        call_with_retries(flaky, attempts=3, is_transient=lambda e: True, sleep=sleeps.append)
    assert len(calls) == 3 and len(sleeps) == 2
    assert all(0 <= backoff_s(n, 0.5, 4.0) <= 4.0 for n in range(20))


def test_run_status_from_the_ledger() -> None:
    from shared.db.models import RunStatus
    from shared.runs import LedgerState
    from workers.sync_ledger import run_status

    ok = LedgerState("r", expected=5, done=5)
    assert run_status(ok, {"endpoint": {"synced": 2}}) == RunStatus.SUCCEEDED
    one_down = LedgerState("r", expected=4, done=3, failed=1)
    assert run_status(one_down, {"endpoint": {"synced": 1, "failed": 1}}) == RunStatus.PARTIAL
    all_down = LedgerState("r", expected=2, done=1, failed=1)
    assert run_status(all_down, {"endpoint": {"failed": 1}}) == RunStatus.FAILED
    bad_guest = LedgerState("r", expected=4, done=4)
    assert run_status(bad_guest, {"virtual_machine": {"failed": 1}}) == RunStatus.PARTIAL
    assert run_status(LedgerState("r", cancelled=True), {}) == RunStatus.CANCELLED

"""Changes in Proxmox appear in NetBox after the next run; gone guests are soft-deleted;
a Proxmox endpoint that is down fails only its own part and deletes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.db.models import RunStatus
from shared.settings import Settings
from tests.e2e.sync_support import (
    add_netbox_endpoint,
    add_proxmox_endpoint,
    netbox_vms,
    run_events,
    start_guest_sync,
    start_run,
    sync_settings,
    wait_run,
    worker_process,
    write_count,
)

pytestmark = pytest.mark.netbox


def by_vmid(vms: list[dict[str, Any]], endpoint_id: int) -> dict[int, dict[str, Any]]:
    return {vm["custom_fields"]["proxmox_vm_id"]: vm for vm in vms
            if vm["custom_fields"]["proxmox_endpoint_id"] == endpoint_id}  # fmt: skip


def tags(vm: dict[str, Any]) -> set[str]:
    return {t["slug"] for t in vm["tags"]}


def test_changes_in_proxmox_reach_netbox_and_a_deleted_guest_is_soft_deleted(
    gateway_settings: Settings, netbox: Any, pvesim: Any, tmp_path: Path
) -> None:
    sim = pvesim(clusters=1, nodes=3, guests=16)[0]
    settings = sync_settings(gateway_settings, sync_batch_size=6)
    add_netbox_endpoint(settings, netbox.url, netbox.token_v2)
    endpoint_id = add_proxmox_endpoint(settings, sim)
    with worker_process(settings, tmp_path) as worker, netbox.client() as nb:
        assert wait_run(settings, start_run(settings), worker).status == RunStatus.SUCCEEDED
        first = by_vmid(netbox_vms(nb), endpoint_id)

        sim.rename_guest(112, "renamed-guest")
        sim.update_guest(113, cores=8, memory_mib=16384)
        sim.stop_guest(114)
        sim.remove_guest(115)
        target = next(n for n in sim.cluster.nodes if n != sim.guest(113).node)
        sim.move_guest(113, target)
        sim.add_guest(vmid=500, kind="lxc", name="brand-new01", node="pve2")

        row = wait_run(settings, start_run(settings), worker)
        assert row.status == RunStatus.SUCCEEDED, row.error_summary
        after = by_vmid(netbox_vms(nb), endpoint_id)
        assert after[112]["name"] == "renamed-guest" and after[112]["id"] == first[112]["id"]
        assert (after[113]["vcpus"], after[113]["memory"]) == (8.0, 16384)
        assert after[113]["device"]["name"] == target
        assert after[113]["custom_fields"]["proxmox_node"] == target
        assert after[114]["status"]["value"] == "offline"
        assert after[115]["status"]["value"] == "decommissioning"
        assert "proxbox-soft-deleted" in tags(after[115])
        new = next(vm for vm in after.values() if vm["name"] == "brand-new01")
        assert "proxbox-discovered-lxc" in tags(new)
        assert len(after) == len(first) + 1  # nothing duplicated, the deleted one kept
        journal = nb.get("/extras/journal-entries/", params={"limit": 50}).json()["results"]
        assert any("soft_deleted" in entry["comments"] for entry in journal)

        before = write_count(nb)
        assert wait_run(settings, start_run(settings), worker).status == RunStatus.SUCCEEDED
        assert write_count(nb) == before, "the soft-deleted guest is not retired twice"


def test_targeted_guest_sync_follows_the_latest_state(
    gateway_settings: Settings, netbox: Any, pvesim: Any, tmp_path: Path
) -> None:
    sim = pvesim(clusters=1, nodes=2, guests=6)[0]
    settings = sync_settings(gateway_settings)
    add_netbox_endpoint(settings, netbox.url, netbox.token_v2)
    endpoint_id = add_proxmox_endpoint(settings, sim)
    with worker_process(settings, tmp_path) as worker, netbox.client() as nb:
        assert wait_run(settings, start_run(settings), worker).status == RunStatus.SUCCEEDED
        sim.rename_guest(104, "hooked-rename")
        run_id = start_guest_sync(settings, endpoint_id, 104)
        assert run_id is not None
        # A second request right away folds into the queued one, unless the worker already
        # took the first (it clears the flag when it starts): then it is a trailing sync.
        second = start_guest_sync(settings, endpoint_id, 104)
        row = wait_run(settings, run_id, worker)
        assert row.status == RunStatus.SUCCEEDED, row.error_summary
        if second is not None:
            assert second != run_id
            assert wait_run(settings, second, worker).status == RunStatus.SUCCEEDED
        vm = by_vmid(netbox_vms(nb), endpoint_id)[104]
        assert vm["name"] == "hooked-rename"
        events = [e["event"] for e in run_events(settings, run_id)]
        assert events.count("complete") == 1


def test_an_endpoint_that_is_down_fails_its_part_and_deletes_nothing(
    gateway_settings: Settings, netbox: Any, pvesim: Any, tmp_path: Path
) -> None:
    estate = pvesim(clusters=2, nodes=2, guests=6)
    up, down = estate[0], estate[1]
    settings = sync_settings(gateway_settings, sync_http_attempts=1, sync_step_attempts=1)
    add_netbox_endpoint(settings, netbox.url, netbox.token_v2)
    up_id, down_id = add_proxmox_endpoint(settings, up), add_proxmox_endpoint(settings, down)
    with worker_process(settings, tmp_path) as worker, netbox.client() as nb:
        first = wait_run(settings, start_run(settings), worker)
        assert first.status == RunStatus.SUCCEEDED, first.error_summary
        before = len(by_vmid(netbox_vms(nb), down_id))
        up.rename_guest(103, "still-synced")
        down.inject_fault(path="*", status=596, message="Connection timed out")

        run_id = start_run(settings)
        row = wait_run(settings, run_id, worker)
        assert row.status == RunStatus.PARTIAL
        assert row.error_summary and down.name in row.error_summary and "596" in row.error_summary
        assert row.counts["endpoint"] == {"synced": 1, "failed": 1}
        vms = netbox_vms(nb)
        assert by_vmid(vms, up_id)[103]["name"] == "still-synced"
        kept = by_vmid(vms, down_id)
        assert len(kept) == before
        assert all(vm["status"]["value"] != "decommissioning" for vm in kept.values())
        errors = [e for e in run_events(settings, run_id) if e["event"] == "error_detail"]
        assert errors and errors[0]["category"] == "connection"

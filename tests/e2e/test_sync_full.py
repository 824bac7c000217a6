"""Full sync of an awkward simulator estate into the real NetBox, then an unchanged re-run.

Estate: two clusters with the same vmids (cl1, cl2) and a standalone node; each
has the simulator's awkward guests (duplicate names, a template, stopped guests,
a 113-character name, LXC and QEMU).
"""

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
    start_run,
    sync_settings,
    wait_run,
    worker_process,
    write_count,
)

pytestmark = pytest.mark.netbox

STATUS = {"running": "active", "stopped": "offline", "paused": "paused"}
_MB = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


def disk_mb(size: str) -> int:
    return int(float(size[:-1]) * _MB[size[-1]])


def expected_name(guest: Any, all_guests: list[Any]) -> str:
    """Lowest vmid keeps a shared name; the others get ' (vmid)'; 64 characters at most."""
    same = sorted(g.vmid for g in all_guests if g.name[:64].lower() == guest.name[:64].lower())
    if guest.vmid == same[0]:
        return guest.name[:64].rstrip()
    suffix = f" ({guest.vmid})"
    return guest.name[: 64 - len(suffix)].rstrip() + suffix


def expected_vm(guest: Any, all_guests: list[Any], cluster: str) -> dict[str, Any]:
    vcpus = guest.cores * (guest.sockets if guest.kind == "qemu" else 1)
    disk = sum(disk_mb(d.size) for d in guest.disks if not d.slot.startswith("unused"))
    return {
        "name": expected_name(guest, all_guests),
        "status": "offline" if guest.template else STATUS[guest.status],
        "vcpus": float(vcpus),
        "memory": guest.memory_mib,
        "disk": disk,
        "node": guest.node,
        "cluster": cluster,
        "comments": guest.description or "",
        "tags": set(guest.tags),
    }


def actual_vm(vm: dict[str, Any]) -> dict[str, Any]:
    cf = vm["custom_fields"]
    return {
        "name": vm["name"], "status": vm["status"]["value"], "vcpus": float(vm["vcpus"]),
        "memory": vm["memory"], "disk": vm["disk"], "node": vm["device"]["name"],
        "cluster": vm["cluster"]["name"], "comments": vm["comments"],
        "tags": {t["name"] for t in vm["tags"] if not t["slug"].startswith("proxbox")},
        "cf": (cf["proxmox_vm_type"], cf["proxmox_vm_id"], cf["proxmox_cluster"], cf["proxmox_node"]),
    }  # fmt: skip


@pytest.fixture
def estate(pvesim: Any) -> Any:
    return pvesim(clusters=2, nodes=3, guests=14, standalone=1)


def test_full_sync_lands_every_guest_then_an_unchanged_rerun_writes_nothing(
    gateway_settings: Settings, netbox: Any, estate: Any, tmp_path: Path
) -> None:
    settings = sync_settings(gateway_settings, sync_batch_size=5)
    add_netbox_endpoint(settings, netbox.url, netbox.token_v2)
    ids = {sim.name: add_proxmox_endpoint(settings, sim) for sim in estate.endpoints}

    with worker_process(settings, tmp_path) as worker, netbox.client() as nb:
        run_id = start_run(settings)
        row = wait_run(settings, run_id, worker)
        assert row.status == RunStatus.SUCCEEDED, (row.error_summary, worker.log_tail())

        vms = netbox_vms(nb, cf_proxmox_endpoint_id__gte=0)
        for sim in estate.endpoints:
            guests = sim.guests()
            mine = [vm for vm in vms if vm["custom_fields"]["proxmox_endpoint_id"] == ids[sim.name]]
            assert len(mine) == len(guests), sim.name
            by_identity = {(vm["custom_fields"]["proxmox_vm_type"], vm["custom_fields"]["proxmox_vm_id"]): vm
                           for vm in mine}  # fmt: skip
            for guest in guests:
                actual = actual_vm(by_identity[(guest.kind, guest.vmid)])
                assert actual.pop("cf") == (guest.kind, guest.vmid, sim.cluster.name, guest.node)
                assert actual == expected_vm(guest, guests, sim.cluster.name), guest.vmid
        devices = nb.get("/dcim/devices/", params={"limit": 100}).json()["results"]
        assert sorted(d["name"] for d in devices) == sorted(
            n for sim in estate.endpoints for n in sim.cluster.nodes)
        assert row.counts["virtual_machine"]["created"] == len(vms)
        clusters = nb.get("/virtualization/clusters/", params={"limit": 100}).json()["results"]
        assert {c["name"]: c["type"]["slug"] for c in clusters} == {
            "cl1": "cluster", "cl2": "cluster", "standalone1": "standalone"}
        assert {c["scope"]["name"] for c in clusters} == {
            f"Proxmox Default Site - {name}" for name in ("cl1", "cl2", "standalone1")}
        journal = nb.get("/extras/journal-entries/", params={"limit": 100}).json()["results"]
        assert sorted(e["assigned_object_id"] for e in journal) == sorted(c["id"] for c in clusters)

        events = run_events(settings, run_id)
        names = [e["event"] for e in events]
        assert names.count("complete") == 1 and names[-1] == "complete"
        assert "duplicate_name_resolved" in names
        items = [e for e in events if e["event"] == "item_progress" and e["item"]["item_type"] == "virtual_machine"]
        assert len(items) == len(vms)

        before = write_count(nb)
        second = start_run(settings)
        row = wait_run(settings, second, worker)
        assert row.status == RunStatus.SUCCEEDED, row.error_summary
        assert write_count(nb) == before, "an unchanged re-run must not write to NetBox"
        assert row.counts["virtual_machine"] == {"unchanged": len(vms)}

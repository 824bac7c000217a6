"""The plugin's "Sync now": one guest, named as NetBox shows it, synced without a full run."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from shared.db.models import RunStatus
from shared.settings import Settings
from tests.e2e.hook_support import power, served_estate, vm_status, wait_until
from tests.e2e.sync_support import (
    netbox_vms,
    start_run,
    wait_run,
    worker_process,
)

pytestmark = [pytest.mark.netbox, pytest.mark.anyio]


async def test_sync_now_by_netbox_vm_id_and_by_cluster_name_updates_one_guest(
    gateway_settings: Settings, netbox: Any, pvesim: Any, tmp_path: Path
) -> None:
    sim = pvesim(clusters=1, nodes=2, guests=8)[0]
    async with served_estate(gateway_settings, netbox, sim, "pve-east") as served:
        settings, client = served.settings, served.client
        endpoint_id = served.endpoint_id  # registered under a name that is not its cluster's
        with worker_process(settings, tmp_path) as worker, netbox.client() as nb:
            # Given an estate synced once, and a running guest that NetBox shows active
            first = await asyncio.to_thread(wait_run, settings, start_run(settings), worker)
            assert first.status == RunStatus.SUCCEEDED, first.error_summary
            guest = next(g for g in sim.guests() if g.status == "running" and not g.template)
            [vm] = netbox_vms(nb, cf_proxmox_vm_id=guest.vmid)
            cluster = nb.get(f"/virtualization/clusters/{vm['cluster']['id']}/").json()["name"]
            assert cluster != "pve-east"

            # When it stops in Proxmox and "Sync now" names its NetBox VM id
            await asyncio.to_thread(power, sim, guest.vmid, "stop")
            queued = await client.post("/sync/individual/vm", json={"netbox_vm_id": vm["id"]})
            # Then a targeted sync of that guest is queued, and NetBox shows it offline
            assert queued.status_code == 202, queued.text
            assert (queued.json()["endpoint_id"], queued.json()["vmid"]) == (endpoint_id, guest.vmid)
            assert await wait_until(lambda: vm_status(nb, guest.vmid) == "offline", 60), worker.log_tail()

            # When it starts again and the plugin asks by cluster name, node, type and vmid
            await asyncio.to_thread(power, sim, guest.vmid, "start")
            params = {"cluster_name": cluster, "node": guest.node, "type": guest.kind,
                      "vmid": guest.vmid, "dry_run": "false"}  # fmt: skip
            plugin = await client.get("/sync/individual/vm", params=params)
            # Then the answer has the predecessor's shape, and NetBox shows the guest active
            assert plugin.status_code == 202, plugin.text
            body = plugin.json()
            assert body["object_type"] == "virtual_machine" and body["action"] == "queued"
            assert body["dependencies_synced"] == [] and body["error"] is None
            assert body["endpoint_id"] == endpoint_id and body["run_id"]
            assert await wait_until(lambda: vm_status(nb, guest.vmid) == "active", 60), worker.log_tail()
            # And no full run was started for either
            runs = (await client.get("/runs", params={"limit": 50})).json()["runs"]
            assert sorted(r["kind"] for r in runs).count("full") == 1


async def test_sync_now_refuses_what_it_cannot_resolve(
    gateway_settings: Settings, netbox: Any, pvesim: Any, tmp_path: Path
) -> None:
    sim = pvesim(clusters=1, nodes=1, guests=2)[0]
    async with served_estate(gateway_settings, netbox, sim, "pve-west") as served:
        client = served.client
        with netbox.client() as nb:
            # Given a NetBox VM that proxbox-mq does not manage (made by hand, no identity fields)
            cluster_type = nb.post("/virtualization/cluster-types/",
                                   json={"name": "Manual", "slug": "manual"}).json()  # fmt: skip
            cluster = nb.post("/virtualization/clusters/",
                              json={"name": "by-hand", "type": cluster_type["id"]}).json()  # fmt: skip
            manual = nb.post("/virtualization/virtual-machines/",
                             json={"name": "hand-made", "cluster": cluster["id"]}).json()  # fmt: skip
            # When "Sync now" names it, a VM id NetBox does not have, or an unknown cluster
            unmanaged = await client.post("/sync/individual/vm", json={"netbox_vm_id": manual["id"]})
            missing = await client.post("/sync/individual/vm", json={"netbox_vm_id": 999_999})
            no_cluster = await client.get("/sync/individual/vm",
                                          params={"cluster_name": "nowhere", "vmid": 100})  # fmt: skip
            unmanaged_cluster = await client.get("/sync/individual/vm",
                                                 params={"cluster_name": "by-hand", "vmid": 100})  # fmt: skip
        runs = (await client.get("/runs")).json()
    # Then each is refused with a JSON reason, and nothing is queued
    assert unmanaged.status_code == 409 and "not managed" in unmanaged.json()["detail"]
    assert missing.status_code == 404 and "999999" in missing.json()["detail"]
    assert no_cluster.status_code == 404 and "nowhere" in no_cluster.json()["detail"]
    assert unmanaged_cluster.status_code == 404
    assert runs["total"] == 0, runs

"""A sync driven as netbox-proxbox drives it: one stage stream after another, into real NetBox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.settings import Settings
from tests.e2e.hook_support import served_estate
from tests.e2e.sync_support import netbox_count, netbox_vms, worker_process
from tests.integration.gateway_support import parse_sse

pytestmark = [pytest.mark.netbox, pytest.mark.anyio]

#: The plugin's stage order (its _SYNC_STAGE_ORDER), as paths; each one request per endpoint.
PLUGIN_STAGES = [
    "/dcim/devices/create/stream",
    "/virtualization/virtual-machines/storage/create/stream",
    "/virtualization/virtual-machines/create/stream",
    "/virtualization/virtual-machines/virtual-disks/create/stream",
    "/dcim/devices/interfaces/create/stream",
    "/virtualization/virtual-machines/interfaces/create/stream",
    "/virtualization/virtual-machines/interfaces/ip-address/create/stream",
    "/proxmox/replication/stream",
]


async def stage(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    """Request one stage stream and return its ``complete`` data (exactly one, at the end)."""
    async with client.stream("GET", path, params=params, timeout=300) as response:
        assert response.status_code == 200, path
        body = (await response.aread()).decode()
    frames = [frame for frame in parse_sse(body) if "event" in frame]
    assert [f["event"] for f in frames].count("complete") == 1 and frames[-1]["event"] == "complete", path
    assert not any(line.startswith(("id:", "retry:")) for line in body.split("\n")), path
    return dict(json.loads(frames[-1]["data"]))


async def test_the_plugins_stage_sequence_fills_netbox_stage_by_stage(
    gateway_settings: Settings, netbox: Any, pvesim: Any, tmp_path: Path
) -> None:
    sim = pvesim(clusters=1, nodes=2, guests=6)[0]
    async with served_estate(gateway_settings, netbox, sim) as served:
        client, endpoint = served.client, str(served.endpoint_id)
        with worker_process(served.settings, tmp_path) as worker, netbox.client() as nb:
            # When the plugin requests its devices stage for the endpoint
            devices = await stage(client, PLUGIN_STAGES[0], proxmox_endpoint_ids=endpoint)
            # Then the nodes are in NetBox, and no VM yet
            assert devices["ok"] is True, (devices, worker.log_tail())
            assert netbox_count(nb, "/dcim/devices/") == len(sim.cluster.nodes)
            assert netbox_vms(nb) == []
            # When it goes on through the rest of its stages
            completes = {path: await stage(client, path, proxmox_endpoint_ids=endpoint) for path in PLUGIN_STAGES[1:]}
            # Then every stage completed, and the VMs with their interfaces and disks are there
            assert all(c["ok"] is True for c in completes.values()), completes
            assert len(netbox_vms(nb)) == len(sim.guests())
            assert netbox_count(nb, "/virtualization/interfaces/") > 0
            assert netbox_count(nb, "/virtualization/virtual-disks/") > 0
            # And a per-VM stage streams a targeted sync of that one guest
            vm = netbox_vms(nb)[0]
            one = await stage(client, f"/virtualization/virtual-machines/{vm['id']}/virtual-disks/create/stream")
            assert one["ok"] is True, one

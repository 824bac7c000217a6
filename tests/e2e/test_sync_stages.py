"""Stages: a run does the parts it was asked for, and only those, in the real NetBox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.db.models import RunStatus
from shared.settings import Settings
from tests.e2e.sync_support import (
    add_netbox_endpoint,
    add_proxmox_endpoint,
    netbox_count,
    netbox_vms,
    start_run,
    sync_settings,
    wait_run,
    worker_process,
)

pytestmark = pytest.mark.netbox


def test_each_stage_writes_its_part_and_a_later_full_run_completes_the_rest(
    gateway_settings: Settings, netbox: Any, pvesim: Any, tmp_path: Path
) -> None:
    sim = pvesim(clusters=1, nodes=2, guests=6)[0]
    settings = sync_settings(gateway_settings)
    add_netbox_endpoint(settings, netbox.url, netbox.token_v2)
    add_proxmox_endpoint(settings, sim)
    with worker_process(settings, tmp_path) as worker, netbox.client() as nb:
        # When a run asks for the plugin's "devices" stage only
        nodes_only = wait_run(settings, start_run(settings, stages=["devices"]), worker)
        # Then the cluster and its nodes exist, and no VM nor any interface
        assert nodes_only.status == RunStatus.SUCCEEDED, nodes_only.error_summary
        assert netbox_count(nb, "/dcim/devices/") == len(sim.cluster.nodes)
        assert netbox_vms(nb) == []
        assert netbox_count(nb, "/dcim/interfaces/") == 0

        # When a run asks for the VMs only
        vms_only = wait_run(settings, start_run(settings, stages=["virtual-machines"]), worker)
        # Then every guest has its VM, still without interfaces or disks
        assert vms_only.status == RunStatus.SUCCEEDED, vms_only.error_summary
        assert len(netbox_vms(nb)) == len(sim.guests())  # templates too, as offline VMs
        assert netbox_count(nb, "/virtualization/interfaces/") == 0
        assert netbox_count(nb, "/virtualization/virtual-disks/") == 0
        assert sim.request_count("/nodes/*/agent/*", "GET") == 0  # no addresses asked for

        # When a run asks for the plugin's vm-disks stage
        disks_only = wait_run(settings, start_run(settings, stages=["vm-disks"]), worker)
        # Then disks appear, still without interfaces, and no guest agent was asked for addresses
        assert disks_only.status == RunStatus.SUCCEEDED, disks_only.error_summary
        assert netbox_count(nb, "/virtualization/virtual-disks/") > 0
        assert netbox_count(nb, "/virtualization/interfaces/") == 0
        assert sim.request_count("/nodes/*/agent/*", "GET") == 0

        # When a run asks for everything
        full = wait_run(settings, start_run(settings), worker)
        # Then guest interfaces, disks and node interfaces are there too
        assert full.status == RunStatus.SUCCEEDED, full.error_summary
        assert netbox_count(nb, "/virtualization/interfaces/") > 0
        assert netbox_count(nb, "/virtualization/virtual-disks/") > 0
        assert netbox_count(nb, "/dcim/interfaces/") > 0
        assert sim.request_count("/nodes/*/agent/*", "GET") > 0  # addresses asked for at last

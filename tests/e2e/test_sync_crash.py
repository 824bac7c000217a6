"""Crash safety: kill -9 a worker in the middle of a run; another worker finishes it and NetBox
ends with every guest exactly once."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from shared.db.models import RunStatus
from shared.keys import Keys
from shared.redis_client import sync_client
from shared.runs import RunLedger
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
)

pytestmark = pytest.mark.netbox


def wait_for_progress(settings: Settings, run_id: str, settled: int, timeout: float = 60) -> None:
    client = sync_client(settings)
    ledger = RunLedger(client, Keys(settings.redis_prefix))
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = ledger.state(run_id)
            if state is not None and state.done >= settled:
                return
            time.sleep(0.05)
        raise AssertionError("the run made no progress before the kill")
    finally:
        client.close()


def test_a_worker_killed_mid_run_leaves_no_duplicate_and_no_missing_vm(
    gateway_settings: Settings, netbox: Any, pvesim: Any, tmp_path: Path
) -> None:
    sim = pvesim(clusters=1, nodes=3, guests=120)[0]
    sim.set_latency(0.03)  # every Proxmox call takes a while: the kill lands mid-batch
    settings = sync_settings(gateway_settings, sync_batch_size=10, sync_proxmox_concurrency=6,
                             sync_netbox_concurrency=6)  # fmt: skip
    add_netbox_endpoint(settings, netbox.url, netbox.token_v2)
    endpoint_id = add_proxmox_endpoint(settings, sim)

    with worker_process(settings, tmp_path, threads=2, name="doomed") as doomed:
        run_id = start_run(settings)
        wait_for_progress(settings, run_id, settled=4)  # plan, endpoint and a couple of batches
        doomed.kill()
    client = sync_client(settings)
    state = RunLedger(client, Keys(settings.redis_prefix)).state(run_id)
    client.close()
    assert state is not None and not state.closed, "the kill must land before the run ends"
    with worker_process(settings, tmp_path, threads=4, name="rescuer") as rescuer, netbox.client() as nb:
        row = wait_run(settings, run_id, rescuer, timeout=240)
        failed = [(e["item"]["item_type"], e["item"]["name"], e["error"]) for e in run_events(settings, run_id)
                  if e["event"] == "item_progress" and e["operation"] == "failed"]  # fmt: skip
        assert row.status == RunStatus.SUCCEEDED, (row.error_summary, row.counts, failed[:5])
        vms = [vm for vm in netbox_vms(nb) if vm["custom_fields"]["proxmox_endpoint_id"] == endpoint_id]
        identities = Counter((vm["custom_fields"]["proxmox_vm_type"], vm["custom_fields"]["proxmox_vm_id"])
                             for vm in vms)  # fmt: skip
        assert not [key for key, n in identities.items() if n > 1], "duplicates"
        assert set(identities) == {(g.kind, g.vmid) for g in sim.guests()}, "missing or extra VMs"
        assert [e["event"] for e in run_events(settings, run_id)].count("complete") == 1

"""Hook events reach NetBox without a full run; a storm of them costs a handful of syncs."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.intake import HOOK_COALESCE_DELAY_MS
from shared.db.models import RunStatus
from shared.hooks import SECRET_HEADER, sign
from shared.settings import Settings
from tests.e2e.hook_support import power, runs_of_kind, served_estate, vm_status, wait_until
from tests.e2e.sync_support import (
    start_run,
    wait_run,
    worker_process,
)

pytestmark = [pytest.mark.netbox, pytest.mark.anyio]


async def test_a_started_guest_is_active_in_netbox_without_a_full_run(
    gateway_settings: Settings, netbox: Any, pvesim: Any, tmp_path: Path
) -> None:
    sim = pvesim(clusters=1, nodes=2, guests=8)[0]
    async with served_estate(gateway_settings, netbox, sim) as served:
        settings, url, secret = served.settings, served.url, served.hook_secret
        with worker_process(settings, tmp_path) as worker, netbox.client() as nb:
            # Given an estate synced once, with a stopped guest that NetBox shows offline
            first = await asyncio.to_thread(wait_run, settings, start_run(settings), worker)
            assert first.status == RunStatus.SUCCEEDED, first.error_summary
            stopped = next(g.vmid for g in sim.guests() if g.status == "stopped" and not g.template)
            assert vm_status(nb, stopped) == "offline"
            # When the guest is started in Proxmox, whose hookscript reports to the gateway
            sim.set_hook_url(f"{url}/events/proxmox", endpoint=sim.name, secret=secret)
            await asyncio.to_thread(power, sim, stopped, "start")
            # Then NetBox shows it active soon after, through targeted syncs only
            assert await wait_until(lambda: vm_status(nb, stopped) == "active", timeout=60), (
                worker.log_tail()
            )
    assert len(runs_of_kind(settings, "full")) == 1
    assert len(runs_of_kind(settings, "guests")) in (1, 2)  # pre+post folded, maybe one trailing


#: Hook events in flight at once in the storm test: hookscripts on a few nodes, each a curl.
IN_FLIGHT = 50


async def test_a_thousand_events_for_five_guests_cause_a_handful_of_syncs(
    gateway_settings: Settings, netbox: Any, pvesim: Any, tmp_path: Path
) -> None:
    sim = pvesim(clusters=1, nodes=2, guests=10)[0]
    # Requests wait for a free connection as long as they must: a slow CI box makes the burst
    # longer (the assertions below scale with it), not a client-side pool timeout.
    timeout = httpx.Timeout(30, pool=None)
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    async with served_estate(gateway_settings, netbox, sim, timeout=timeout, limits=limits) as served:
        settings, client, secret = served.settings, served.client, served.hook_secret
        with worker_process(settings, tmp_path) as worker, netbox.client() as nb:
            first = await asyncio.to_thread(wait_run, settings, start_run(settings), worker)
            assert first.status == RunStatus.SUCCEEDED, first.error_summary
            guests = sorted(g.vmid for g in sim.guests() if not g.template)[:5]
            # Given the five guests end up in a known state: the first two stopped, the rest running
            for vmid in guests:
                wanted = "stop" if vmid in guests[:2] else "start"
                if (sim.guest(vmid).status == "running") != (wanted == "start"):
                    await asyncio.to_thread(power, sim, vmid, wanted)

            # When 1,000 signed hook events for them arrive within about a second
            async def post(i: int) -> int:
                body = json.dumps({"endpoint": sim.name, "node": sim.guest(guests[i % 5]).node,
                                   "vmid": guests[i % 5], "phase": ["post-start", "post-stop"][i % 2],
                                   "seq": i}).encode()  # fmt: skip
                now = int(time.time())
                headers = {"X-Proxbox-Timestamp": str(now), "X-Proxbox-Signature": sign(secret, now, body),
                           "Content-Type": "application/json"}  # fmt: skip
                return (
                    await client.post("/events/proxmox", content=body, headers=headers)
                ).status_code

            started = time.monotonic()
            statuses = await asyncio.gather(*(post(i) for i in range(1000)))
            burst_s = time.monotonic() - started
            assert set(statuses) == {202}

            # Then a handful of guest syncs ran, and NetBox shows each guest's final state
            def settled() -> bool:
                runs = runs_of_kind(settings, "guests")
                done = all(r.status in {RunStatus.SUCCEEDED, RunStatus.PARTIAL} for r in runs)
                expected = {v: ("offline" if v in guests[:2] else "active") for v in guests}
                return done and all(vm_status(nb, v) == s for v, s in expected.items())

            assert await wait_until(settled, timeout=120), worker.log_tail()
    guest_runs = runs_of_kind(settings, "guests")
    print(f"1000 events in {burst_s:.2f} s -> {len(guest_runs)} guest syncs")
    # One queued sync per guest at a time, each folding HOOK_COALESCE_DELAY_MS of events:
    # a burst of T seconds costs each guest at most about T / delay + 2 syncs. On this 2-core
    # box the Python client alone needs a few seconds to send 1,000 requests.
    windows = burst_s / (HOOK_COALESCE_DELAY_MS / 1000)
    assert 5 <= len(guest_runs) <= 5 * (windows + 2)
    assert len(guest_runs) < 100  # a handful, not one per event


async def test_a_fencing_notification_syncs_the_fenced_nodes_guests_only(
    gateway_settings: Settings, netbox: Any, pvesim: Any, tmp_path: Path
) -> None:
    sim = pvesim(clusters=1, nodes=3, guests=12)[0]
    async with served_estate(gateway_settings, netbox, sim) as served:
        settings, url, secret = served.settings, served.url, served.hook_secret
        with worker_process(settings, tmp_path) as worker:
            # Given an estate synced once, and one guest that left the node before the fencing
            first = await asyncio.to_thread(wait_run, settings, start_run(settings), worker)
            assert first.status == RunStatus.SUCCEEDED, first.error_summary
            fenced = sorted(sim.cluster.nodes)[0]
            on_node = sorted(g.vmid for g in sim.guests() if g.node == fenced)
            moved = on_node[0]
            sim.move_guest(moved, sorted(sim.cluster.nodes)[1])  # NetBox still shows it on the node
            # When PVE's notification says that node was fenced
            note = json.dumps({"title": f"Successfully fenced node '{fenced}'", "severity": "error",
                               "message": f"Successfully fenced node '{fenced}'",
                               "fields": {"type": "fencing", "hostname": fenced}}).encode()  # fmt: skip
            async with httpx.AsyncClient(base_url=url, timeout=30) as webhook:  # PVE holds no API key
                answer = await webhook.post(f"/events/proxmox?endpoint={sim.name}", content=note,
                                            headers={SECRET_HEADER: secret})  # fmt: skip
            # Then each guest NetBox or Proxmox places on that node gets a targeted sync, no other
            assert answer.status_code == 202, answer.text
            assert answer.json()["action"] == "guest_syncs"
            assert len(answer.json()["run_ids"]) == len(on_node)

            def synced_vmids() -> list[int]:
                return sorted(v for r in runs_of_kind(settings, "guests") for v in r.scope["vmids"])

            assert await wait_until(lambda: synced_vmids() == on_node, timeout=60), synced_vmids()
            assert len(runs_of_kind(settings, "full")) == 1

"""The whole path: POST /full-update on the gateway -> RabbitMQ -> a worker process -> NetBox,
and the run record the gateway serves afterwards."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from shared.settings import Settings
from tests.conftest import gateway_client
from tests.e2e.sync_support import (
    add_netbox_endpoint,
    add_proxmox_endpoint,
    netbox_vms,
    worker_process,
)
from tests.integration.gateway_support import bootstrap

pytestmark = [pytest.mark.anyio, pytest.mark.netbox]


async def test_a_full_update_through_the_gateway_lands_in_netbox(
    gateway_settings: Settings, netbox: Any, pvesim: Any, tmp_path: Path
) -> None:
    sim = pvesim(clusters=1, nodes=2, guests=8)[0]
    add_netbox_endpoint(gateway_settings, netbox.url, netbox.token_v2)
    add_proxmox_endpoint(gateway_settings, sim)
    with worker_process(gateway_settings, tmp_path) as worker:
        async with gateway_client(gateway_settings) as client:
            await bootstrap(client)
            answer = await client.post("/full-update")
            assert answer.status_code in (200, 202), answer.text
            run_id = answer.json()["run_id"]
            for _ in range(600):
                run = (await client.get(f"/runs/{run_id}")).json()
                if run["status"] in ("succeeded", "partial", "failed"):
                    break
                await asyncio.sleep(0.1)
            assert run["status"] == "succeeded", (run, worker.log_tail())
            assert run["counts"]["virtual_machine"]["created"] == len(sim.guests())
    with netbox.client() as nb:
        assert len(netbox_vms(nb)) == len(sim.guests())

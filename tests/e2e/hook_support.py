"""A gateway on a simulated, NetBox-backed estate, as the event and "Sync now" tests use it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from shared.db.engine import build_engine, build_sessionmaker
from shared.db.models import SyncRun
from shared.settings import Settings
from tests.e2e.sync_support import add_netbox_endpoint, netbox_vms, sync_settings
from tests.integration.gateway_support import bootstrap, live_gateway


@dataclass(frozen=True)
class Served:
    settings: Settings
    url: str
    client: httpx.AsyncClient  # holds the API key
    endpoint_id: int
    hook_secret: str


@contextlib.asynccontextmanager
async def served_estate(
    gateway_settings: Settings, netbox: Any, sim: Any, name: str | None = None, **client_options: Any
) -> AsyncIterator[Served]:
    """A live gateway with the NetBox test bed configured and ``sim`` registered through the API."""
    settings = sync_settings(gateway_settings)
    add_netbox_endpoint(settings, netbox.url, netbox.token_v2)
    options = {"timeout": 30, **client_options}
    async with live_gateway(settings) as url, httpx.AsyncClient(base_url=url, **options) as client:
        await bootstrap(client)
        endpoint_id, secret = await register(client, sim, name)
        yield Served(settings, url, client, endpoint_id, secret)


async def register(client: httpx.AsyncClient, sim: Any, name: str | None = None) -> tuple[int, str]:
    """The simulator endpoint through the API (as a user would), with a hook secret."""
    created = await client.post("/proxmox/endpoints", json={
        "name": name or sim.name, "ip_address": sim.host, "port": sim.port, "username": sim.user,
        "token_name": sim.token_name, "token_value": sim.token_secret, "verify_ssl": False,
        "timeout": 10, "max_retries": 1,
    })  # fmt: skip
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["id"]
    secret = (await client.post(f"/proxmox/endpoints/{endpoint_id}/hook-secret")).json()[
        "hook_secret"
    ]
    return endpoint_id, secret


def vm_status(nb: httpx.Client, vmid: int) -> str | None:
    for vm in netbox_vms(nb, cf_proxmox_vm_id=vmid):
        return str(vm["status"]["value"])
    return None


def runs_of_kind(settings: Settings, kind: str) -> list[SyncRun]:
    engine = build_engine(settings)
    try:
        with build_sessionmaker(engine)() as session:
            return list(session.scalars(select(SyncRun).where(SyncRun.kind == kind)))
    finally:
        engine.dispose()


async def wait_until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return True
        await asyncio.sleep(0.3)
    return False


def power(sim: Any, vmid: int, action: str) -> None:
    guest = sim.guest(vmid)
    kind = "qemu" if guest.kind == "qemu" else "lxc"
    getattr(sim.proxmox().nodes(guest.node), kind)(vmid).status.__getattr__(action).post()
    sim.wait_tasks()

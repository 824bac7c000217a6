"""Jobs in: what lands in RabbitMQ, joining a running full update, cancel, one guest, listings."""

from __future__ import annotations

import json
from typing import Any

import pika
import pytest

from shared.keys import Keys
from shared.messages import PLAN_RUN, SYNC_GUEST
from shared.redis_client import sync_client
from shared.runs import RunLedger, child_message_id
from shared.settings import Settings
from tests.conftest import gateway_client
from tests.integration.gateway_support import bootstrap
from tests.integration.test_gateway_registry import PROXMOX

pytestmark = pytest.mark.anyio


def drain(settings: Settings, queue: str) -> list[dict[str, Any]]:
    """Every message waiting on ``queue`` (as Dramatiq's JSON)."""
    connection = pika.BlockingConnection(pika.URLParameters(settings.broker_url))
    try:
        channel = connection.channel()
        messages = []
        while True:
            method, _, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return messages
            messages.append(json.loads(body))
    finally:
        connection.close()


async def test_full_update_queues_one_plan_message_and_joins_while_running(
    gateway_settings: Settings,
) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        first = await client.post("/full-update")
        second = await client.post("/full-update", json={})
        assert (await client.post("/proxmox/endpoints", json=PROXMOX)).status_code == 201
        scoped = await client.post("/full-update?proxmox_endpoint_ids=1")
        active = (await client.get("/sync/active")).json()
        run = (await client.get(f"/runs/{first.json()['run_id']}")).json()
    assert first.status_code == second.status_code == scoped.status_code == 202
    run_id = first.json()["run_id"]
    assert first.json()["joined"] is False and second.json() == {**first.json(), "joined": True,
                                                                  "status": "running"}  # fmt: skip
    assert first.json()["urls"]["events"] == f"/runs/{run_id}/events"
    assert scoped.json()["run_id"] != run_id
    messages = drain(gateway_settings, PLAN_RUN.queue_name(gateway_settings))
    assert [m["kwargs"]["run_id"] for m in messages] == [run_id, scoped.json()["run_id"]]
    assert messages[0]["actor_name"] == "plan_run"
    assert messages[0]["message_id"] == child_message_id(run_id, "plan")
    assert messages[1]["kwargs"]["endpoint_ids"] == [1] and messages[1]["kwargs"]["kind"] == "endpoints"
    assert {r["id"] for r in active["runs"]} == {run_id, scoped.json()["run_id"]} and active["active"]
    assert run["status"] == "queued" and run["expected"] == 1 and run["done"] == 0


async def test_a_finished_run_is_not_joined(gateway_settings: Settings) -> None:
    client_redis = sync_client(gateway_settings)
    ledger = RunLedger(client_redis, Keys(gateway_settings.redis_prefix))
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        first = (await client.post("/full-update")).json()["run_id"]
        ledger.mark_finished(first)  # what the worker closing the run does
        second = (await client.post("/full-update")).json()
    client_redis.close()
    assert second["run_id"] != first and second["joined"] is False


async def test_cancel_flags_the_ledger_and_refuses_unknown_runs(gateway_settings: Settings) -> None:
    client_redis = sync_client(gateway_settings)
    ledger = RunLedger(client_redis, Keys(gateway_settings.redis_prefix))
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        run_id = (await client.post("/full-update")).json()["run_id"]
        cancelled = await client.delete(f"/runs/{run_id}")
        state = (await client.get(f"/runs/{run_id}")).json()
        unknown = await client.delete("/runs/abcdefgh0000")
    assert cancelled.status_code == 202 and cancelled.json()["cancel_requested"] is True
    assert ledger.is_cancelled(run_id) and state["cancel_requested"] is True
    assert unknown.status_code == 404
    client_redis.close()


async def test_one_guest_is_queued_once_and_coalesced_after(gateway_settings: Settings) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        assert (await client.post("/proxmox/endpoints", json=PROXMOX)).status_code == 201
        first = await client.post("/sync/individual", json={"endpoint_id": 1, "vmid": 101})
        again = await client.post("/sync/individual/vm", json={"endpoint_id": 1, "vmid": 101})
        other = await client.post("/sync/individual", json={"endpoint_id": 1, "vmid": 102})
        listing = (await client.get("/runs?limit=10")).json()
    assert first.status_code == again.status_code == other.status_code == 202
    assert first.json()["coalesced"] is False and again.json()["coalesced"] is True
    assert again.json()["run_id"] == first.json()["run_id"]
    messages = drain(gateway_settings, SYNC_GUEST.queue_name(gateway_settings))
    assert [(m["kwargs"]["vmid"], m["kwargs"]["run_id"]) for m in messages] == [
        (101, first.json()["run_id"]), (102, other.json()["run_id"])]  # fmt: skip
    assert listing["total"] == 2 and {r["kind"] for r in listing["runs"]} == {"guests"}


async def test_the_plugins_sync_now_by_cluster_name_queues_that_guest(
    gateway_settings: Settings,
) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        # Given an endpoint named like its Proxmox cluster
        assert (await client.post("/proxmox/endpoints", json=PROXMOX)).status_code == 201
        # When the plugin asks in its own terms, by query and by path
        query = await client.get("/sync/individual/vm", params={
            "cluster_name": PROXMOX["name"], "node": "pve1", "type": "qemu", "vmid": "101",
            "netbox_branch_schema_id": "7"})  # fmt: skip
        path = await client.get(f"/sync/individual/vm/{PROXMOX['name']}/pve1/lxc/102")
    # Then each guest is queued once, answered in the predecessor's shape
    assert query.status_code == path.status_code == 202, query.text
    assert query.json()["proxmox_resource"] == {"cluster_name": PROXMOX["name"], "node": "pve1",
                                                "type": "qemu", "vmid": 101}  # fmt: skip
    assert query.json()["action"] == "queued" and query.json()["dependencies_synced"] == []
    messages = drain(gateway_settings, SYNC_GUEST.queue_name(gateway_settings))
    assert [(m["kwargs"]["endpoint_id"], m["kwargs"]["vmid"]) for m in messages] == [(1, 101), (1, 102)]


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "names"),
    [
        ("POST", "/sync/individual/vm", {"vmid": 101}, 422, "endpoint_id and vmid, or netbox_vm_id"),
        ("POST", "/sync/individual/vm", {"netbox_vm_id": 4, "vmid": 101}, 422, "not both"),
        ("POST", "/sync/individual/vm", {"netbox_vm_id": 0}, 422, "netbox_vm_id"),
        ("POST", "/sync/individual/vm", {"netbox_vm_id": 4}, 409, "no NetBox endpoint"),
        ("GET", "/sync/individual/vm?vmid=101", None, 422, "cluster_name"),
        ("GET", "/sync/individual/vm?cluster_name=c&vmid=abc", None, 422, "vmid"),
        ("GET", "/sync/individual/vm?cluster_name=c&vmid=101&type=vz", None, 422, "type"),
        ("GET", "/sync/individual/vm/c/n/vz/101", None, 422, "type"),
        ("GET", "/sync/individual/vm?cluster_name=elsewhere&vmid=101", None, 409, "no NetBox endpoint"),
    ],
)
async def test_sync_now_that_names_no_guest_is_refused_with_a_reason(
    gateway_settings: Settings, method: str, path: str, payload: Any, status: int, names: str
) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        assert (await client.post("/proxmox/endpoints", json=PROXMOX)).status_code == 201
        response = await client.request(method, path, json=payload)
        listing = (await client.get("/runs")).json()
    assert response.status_code == status, response.text
    assert names in json.dumps(response.json()["detail"])
    assert listing["total"] == 0


async def test_runs_are_listed_newest_first_and_filtered(gateway_settings: Settings) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        ids = [(await client.post("/full-update", json={"stages": [stage]})).json()["run_id"]
               for stage in ("devices", "virtual-machines", "vm-disks")]  # fmt: skip
        page = (await client.get("/runs?limit=2")).json()
        queued = (await client.get("/runs?status=queued")).json()
        failed = (await client.get("/runs?status=failed")).json()
    assert [run["id"] for run in page["runs"]] == ids[::-1][:2] and page["total"] == 3
    assert queued["total"] == 3 and failed == {"runs": [], "total": 0}


async def test_rabbitmq_down_is_503_and_leaves_no_claim(gateway_settings: Settings) -> None:
    from shared.settings import load_settings

    broken = load_settings(**{**gateway_settings.model_dump(),
                              "broker_url": "amqp://guest:guest@127.0.0.1:1/"})  # fmt: skip
    async with gateway_client(broken) as client:
        await bootstrap(client)
        answer = await client.post("/full-update")
        active = (await client.get("/sync/active")).json()
        runs = (await client.get("/runs")).json()
    assert answer.status_code == 503 and "queued" in answer.json()["detail"]
    assert active["active"] is False
    assert runs["runs"][0]["status"] == "failed"

"""POST /events/proxmox: genuine events become coalesced syncs; bad ones are refused, nothing queued."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pika
import pika.exceptions
import pytest

from shared.hooks import SECRET_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from shared.messages import PLAN_RUN, SYNC_GUEST
from shared.settings import Settings
from tests.conftest import gateway_client
from tests.integration.gateway_support import bootstrap, live_gateway
from tests.integration.test_gateway_runs import drain
from tests.pvesim.handle import SimEndpoint

pytestmark = pytest.mark.anyio

ENDPOINT = {"name": "pve-lab", "ip_address": "127.0.0.1", "username": "root@pam", "password": "pw"}


async def endpoint_with_hooks(client: httpx.AsyncClient, name: str = "pve-lab") -> tuple[int, str]:
    """A Proxmox endpoint and its hook secret; ``client`` keeps its API key for set-up only."""
    created = await client.post("/proxmox/endpoints", json={**ENDPOINT, "name": name})
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["id"]
    secret = await client.post(f"/proxmox/endpoints/{endpoint_id}/hook-secret")
    assert secret.status_code == 201
    return endpoint_id, secret.json()["hook_secret"]


def hook_body(vmid: int = 101, phase: str = "post-start", **extra: Any) -> bytes:
    return json.dumps(
        {"endpoint": "pve-lab", "node": "pve1", "vmid": vmid, "phase": phase, **extra}
    ).encode()


def signed(secret: str, body: bytes, at: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if at is None else at
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        "Content-Type": "application/json",
    }


async def post_event(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str], query: str = ""
) -> httpx.Response:
    # Hookscripts hold no API key: send without the client's default key header.
    key = client.headers.pop("X-Proxbox-API-Key", None)
    try:
        return await client.post(f"/events/proxmox{query}", content=body, headers=headers)
    finally:
        if key is not None:
            client.headers["X-Proxbox-API-Key"] = key


def queue_depth(settings: Settings, queue: str) -> int:
    """Messages waiting on ``queue``; 0 when nothing ever declared it."""
    connection = pika.BlockingConnection(pika.URLParameters(settings.broker_url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    except pika.exceptions.ChannelClosedByBroker:
        return 0
    finally:
        if connection.is_open:
            connection.close()


def queued_guest_syncs(settings: Settings) -> list[dict[str, Any]]:
    # Hook syncs are delayed (burst folding): Dramatiq parks them on the delay queue.
    queue = SYNC_GUEST.queue_name(settings)
    return drain(settings, f"{queue}.DQ") + drain(settings, queue)


async def test_a_signed_hook_event_queues_one_delayed_guest_sync(
    gateway_settings: Settings,
) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        endpoint_id, secret = await endpoint_with_hooks(client)
        body = hook_body()
        response = await post_event(client, body, signed(secret, body))
    assert response.status_code == 202, response.text
    assert response.json()["action"] == "guest_sync"
    [message] = queued_guest_syncs(gateway_settings)
    assert message["kwargs"]["endpoint_id"] == endpoint_id
    assert message["kwargs"]["vmid"] == 101
    assert message["kwargs"]["reason"] == "hook:post-start"
    assert message["options"]["eta"] > message["message_timestamp"]


async def test_a_burst_of_events_for_five_guests_queues_one_sync_each(
    gateway_settings: Settings,
) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        _, secret = await endpoint_with_hooks(client)
        # Given 200 events in a burst: 5 guests, each going through every phase many times
        phases = ["pre-start", "post-start", "pre-stop", "post-stop"]
        results = []
        for i in range(200):
            body = hook_body(vmid=100 + i % 5, phase=phases[i % 4], seq=i)
            results.append(await post_event(client, body, signed(secret, body)))
    # Then every event is accepted, but only the first one per guest queues a sync
    assert {r.status_code for r in results} == {202}
    assert sum(not r.json()["coalesced"] for r in results) == 5
    assert sorted(m["kwargs"]["vmid"] for m in queued_guest_syncs(gateway_settings)) == [
        100,
        101,
        102,
        103,
        104,
    ]


async def test_the_api_key_also_authenticates_events(gateway_settings: Settings) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        await client.post("/proxmox/endpoints", json=ENDPOINT)
        response = await client.post(
            "/events/proxmox", content=hook_body(), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 202
    assert len(queued_guest_syncs(gateway_settings)) == 1


async def test_a_vzdump_notification_with_the_shared_secret_queues_a_scoped_sync(
    gateway_settings: Settings,
) -> None:
    note = json.dumps({"title": "vzdump backup status (pve1): backup successful", "severity": "info",
                       "timestamp": int(time.time()), "fields": {"hostname": "pve1", "type": "vzdump"}}).encode()  # fmt: skip
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        endpoint_id, secret = await endpoint_with_hooks(client)
        response = await post_event(client, note, {SECRET_HEADER: secret}, "?endpoint=pve-lab")
        ignored_note = note.replace(b'"vzdump"', b'"package-updates"')
        ignored = await post_event(
            client, ignored_note, {SECRET_HEADER: secret}, "?endpoint=pve-lab"
        )
    assert response.status_code == 202 and response.json()["action"] == "scoped_sync"
    assert ignored.status_code == 202 and ignored.json()["action"] == "ignored"
    [message] = drain(gateway_settings, PLAN_RUN.queue_name(gateway_settings))
    assert message["kwargs"]["endpoint_ids"] == [endpoint_id]
    assert message["kwargs"]["stages"] == ["guests"]


async def test_a_vzdump_notification_naming_guests_queues_one_targeted_sync_each(
    gateway_settings: Settings,
) -> None:
    message = ("Details\n=======\nVMID  Name  Status  Time  Size  Filename\n"
               "101   db01  ok      12s   1 GiB local:backup/vzdump-qemu-101.vma.zst\n"
               "205   ct05  err     1s    0 B   null\n\nTotal running time: 13s\n")  # fmt: skip
    note = json.dumps({"title": "vzdump backup status (pve1): backup failed", "severity": "error",
                       "message": message, "fields": {"hostname": "pve1", "type": "vzdump"}}).encode()  # fmt: skip
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        endpoint_id, secret = await endpoint_with_hooks(client)
        # When a backup job's notification lists two guests, and then arrives again
        first = await post_event(client, note, {SECRET_HEADER: secret}, "?endpoint=pve-lab")
        again = await post_event(client, note, {SECRET_HEADER: secret}, "?endpoint=pve-lab")
        runs = (await client.get("/runs")).json()["runs"]
    # Then each guest gets one targeted sync, the repeat folds into them, no full run starts
    assert first.status_code == 202 and first.json()["action"] == "guest_syncs", first.text
    assert len(first.json()["run_ids"]) == 2 and first.json()["coalesced"] is False
    assert again.json()["coalesced"] is True and again.json()["run_ids"] == first.json()["run_ids"]
    queued = drain(gateway_settings, SYNC_GUEST.queue_name(gateway_settings))
    assert sorted((m["kwargs"]["endpoint_id"], m["kwargs"]["vmid"]) for m in queued) == [
        (endpoint_id, 101), (endpoint_id, 205)]  # fmt: skip
    assert {m["kwargs"]["reason"] for m in queued} == {"notification:vzdump"}
    assert sorted(r["kind"] for r in runs) == ["guests", "guests"]


async def test_a_fencing_whose_guests_cannot_be_listed_falls_back_to_a_scoped_sync(
    gateway_settings: Settings,
) -> None:
    note = json.dumps({"title": "Successfully fenced node 'pve3'", "severity": "error",
                       "fields": {"hostname": "pve3", "type": "fencing"}}).encode()  # fmt: skip
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        endpoint_id, secret = await endpoint_with_hooks(client)
        # When a node is fenced and no NetBox is configured to say which guests it held
        response = await post_event(client, note, {SECRET_HEADER: secret}, "?endpoint=pve-lab")
    # Then the event is still accepted, as a sync of the endpoint's nodes and guests
    assert response.status_code == 202 and response.json()["action"] == "scoped_sync", response.text
    [message] = drain(gateway_settings, PLAN_RUN.queue_name(gateway_settings))
    assert message["kwargs"]["endpoint_ids"] == [endpoint_id]
    assert message["kwargs"]["stages"] == ["guests", "nodes"]


async def test_bad_events_are_refused_and_nothing_is_queued(gateway_settings: Settings) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        _, secret = await endpoint_with_hooks(client)
        body = hook_body()
        now = int(time.time())
        cases: dict[str, tuple[bytes, dict[str, str], int]] = {
            "unsigned": (body, {"Content-Type": "application/json"}, 401),
            "mis-signed": (body, signed("not-the-secret", body), 401),
            "stale": (body, signed(secret, body, at=now - 3600), 401),
            "from the future": (body, signed(secret, body, at=now + 3600), 401),
            "unknown endpoint": (
                (u := hook_body().replace(b"pve-lab", b"nope")),
                signed(secret, u),
                401,
            ),
            "malformed JSON": (b"{not json", signed(secret, b"{not json"), 422),
            "bad vmid": ((v := hook_body(vmid=7)), signed(secret, v), 422),
            "bad phase": ((p := hook_body(phase="explode")), signed(secret, p), 422),
            "huge body": ((h := hook_body(pad="x" * 200_000)), signed(secret, h), 413),
            "wrong notification secret": (b'{"title": "t"}', {SECRET_HEADER: "guess"}, 401),
        }
        answers = {
            name: await post_event(client, b, h, "?endpoint=pve-lab")
            for name, (b, h, _) in cases.items()
        }
        # A replay of a genuine event is refused the second time
        first = await post_event(client, body, (headers := signed(secret, body)))
        replay = await post_event(client, body, headers)
    for name, (_, _, status) in cases.items():
        assert answers[name].status_code == status, f"{name}: {answers[name].text}"
        assert "detail" in answers[name].json(), name
    assert first.status_code == 202 and replay.status_code == 409
    assert len(queued_guest_syncs(gateway_settings)) == 1  # only the genuine one
    assert queue_depth(gateway_settings, PLAN_RUN.queue_name(gateway_settings)) == 0


async def test_hook_secrets_are_never_listed_and_can_be_revoked(gateway_settings: Settings) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        endpoint_id, secret = await endpoint_with_hooks(client)
        listing = await client.get("/proxmox/endpoints")
        revoked = await client.delete(f"/proxmox/endpoints/{endpoint_id}/hook-secret")
        body = hook_body()
        after = await post_event(client, body, signed(secret, body))
    assert secret not in listing.text
    assert revoked.status_code == 204
    assert after.status_code == 401


async def test_the_simulators_signed_hooks_reach_the_gateway_and_queue_a_sync(
    gateway_settings: Settings, pve: SimEndpoint
) -> None:
    async with live_gateway(gateway_settings) as url, httpx.AsyncClient(base_url=url) as client:
        await bootstrap(client)
        endpoint_id, secret = await endpoint_with_hooks(client, name=pve.name)
        # Given the simulator's hookscript pointed at the gateway with the endpoint's secret
        pve.set_hook_url(f"{url}/events/proxmox", endpoint=pve.name, secret=secret)
        # When a stopped guest is started through the Proxmox API
        stopped = next(g for g in pve.guests() if g.status == "stopped" and not g.template)
        node = pve.guest(stopped.vmid).node
        kind = "qemu" if stopped.kind == "qemu" else "lxc"
        pve.proxmox().nodes(node).__getattr__(kind)(stopped.vmid).status.start.post()
        pve.wait_tasks()
        for _ in range(100):
            if len(pve.hooks_sent) >= 2:
                break
            await asyncio.sleep(0.05)
    # Then pre-start and post-start were accepted, folded into one queued sync of that guest
    assert sorted(h["phase"] for h in pve.hooks_sent) == ["post-start", "pre-start"]
    [message] = queued_guest_syncs(gateway_settings)
    assert (message["kwargs"]["endpoint_id"], message["kwargs"]["vmid"]) == (
        endpoint_id,
        stopped.vmid,
    )

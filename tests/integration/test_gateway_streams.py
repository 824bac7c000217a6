"""Progress out: SSE resume by Last-Event-ID, the plugin's framing, WebSockets, slow clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from httpx_ws import aconnect_ws

from gateway.hub import ProgressHub, run_event_source
from shared.keys import Keys
from shared.redis_client import async_client, sync_client
from shared.runs import RunLedger
from shared.settings import Settings, load_settings
from tests.conftest import gateway_client
from tests.integration.gateway_support import FIRST_KEY, FakeRun, bootstrap, live_gateway, parse_sse

pytestmark = pytest.mark.anyio

HEADERS = {"X-Proxbox-API-Key": FIRST_KEY}


async def frames(response: httpx.Response) -> AsyncIterator[dict[str, str]]:
    """SSE frames as they arrive (comments included, under ':')."""
    buffer = ""
    async for chunk in response.aiter_text():
        buffer += chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            for frame in parse_sse(block + "\n\n"):
                yield frame


async def wait_for_subscribers(client: httpx.AsyncClient, count: int) -> None:
    for _ in range(200):
        text = (await client.get("/metrics")).text
        line = next(line for line in text.splitlines() if line.startswith("proxbox_gateway_hub_clients"))
        if float(line.split()[-1]) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the stream never subscribed")


@pytest.fixture
def stream_settings(gateway_settings: Settings) -> Settings:
    return load_settings(**{**gateway_settings.model_dump(), "sse_keepalive_s": 0.3})


async def test_sse_resume_delivers_exactly_the_missed_events(stream_settings: Settings) -> None:
    run = FakeRun(stream_settings)
    async with live_gateway(stream_settings) as base, httpx.AsyncClient(base_url=base, headers=HEADERS) as client:
        await bootstrap(client)
        for n in range(3):
            run.step(n)
        seen: list[dict[str, str]] = []
        async with client.stream("GET", f"/runs/{run.run_id}/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            async for frame in frames(response):
                if "id" in frame:
                    seen.append(frame)
                if len(seen) == 3:
                    break  # disconnect after three
        missed = [run.step(n) for n in range(3, 8)]
        end = run.complete()
        async with client.stream("GET", f"/runs/{run.run_id}/events",
                                 headers={"Last-Event-ID": seen[-1]["id"]}) as response:  # fmt: skip
            resumed = [frame async for frame in frames(response) if "id" in frame]
    run.close()
    assert [frame["id"] for frame in seen] == run.ids[:3]
    assert [frame["id"] for frame in resumed] == [*missed, end]
    assert [frame["event"] for frame in resumed] == ["step"] * 5 + ["complete"]
    assert json.loads(resumed[0]["data"])["step"] == "step-3"


async def test_live_events_reach_a_connected_client_in_order(stream_settings: Settings) -> None:
    run = FakeRun(stream_settings)
    async with live_gateway(stream_settings) as base, httpx.AsyncClient(base_url=base, headers=HEADERS) as client:
        await bootstrap(client)
        run.step(0)  # the run exists before the client connects

        async def publish_when_subscribed() -> None:
            await wait_for_subscribers(client, 1)
            for n in range(1, 30):
                run.item(f"vm-{n}")
            run.complete()

        publisher = asyncio.create_task(publish_when_subscribed())
        async with client.stream("GET", f"/runs/{run.run_id}/events") as response:
            got = [frame async for frame in frames(response) if "id" in frame]
        await publisher
    run.close()
    assert [frame["id"] for frame in got] == run.ids


async def test_full_update_stream_speaks_the_plugins_framing(stream_settings: Settings) -> None:
    async with live_gateway(stream_settings) as base, httpx.AsyncClient(base_url=base, headers=HEADERS) as client:
        await bootstrap(client)
        raw = ""
        run: FakeRun | None = None
        async with client.stream("GET", "/full-update/stream") as response:
            async for chunk in response.aiter_text():
                raw += chunk
                if run is None and "\n\n" in raw:
                    lead = parse_sse(raw)[0]
                    run = FakeRun(stream_settings, json.loads(lead["data"])["run_id"])
                    await asyncio.sleep(0.7)  # long enough for a keep-alive comment
                    run.step(1)
                    run.item("vm-1")
                    run.complete(ok=False)
                    run.step(2)  # anything after complete is not relayed
        assert run is not None
        ledger = RunLedger(sync_client(stream_settings), Keys(stream_settings.redis_prefix))
        assert not ledger.is_cancelled(run.run_id)  # the client left; the run was never cancelled
        run.close()
    lines = raw.split("\n")
    assert not any(line.startswith(("id:", "retry:")) for line in lines)
    assert ": keepalive" in lines
    parsed = [frame for frame in parse_sse(raw) if "event" in frame]
    assert [frame["event"] for frame in parsed] == ["step", "step", "item_progress", "complete"]
    for frame in parsed:
        assert set(frame) == {"event", "data"} and isinstance(json.loads(frame["data"]), dict)
    complete = json.loads(parsed[-1]["data"])
    assert complete["ok"] is False and complete["errors"] == [{"detail": "boom"}]
    assert isinstance(complete["message"], str) and isinstance(complete["result"], dict)


async def test_a_second_stream_joins_the_running_full_update(stream_settings: Settings) -> None:
    async with live_gateway(stream_settings) as base, httpx.AsyncClient(base_url=base, headers=HEADERS) as client:
        await bootstrap(client)
        started = (await client.post("/full-update")).json()
        run = FakeRun(stream_settings, started["run_id"])
        run.step(1)
        run.complete()
        async with client.stream("GET", "/full-update/stream") as response:
            body = (await response.aread()).decode()
        run.close()
    parsed = [frame for frame in parse_sse(body) if "event" in frame]
    assert json.loads(parsed[0]["data"])["run_id"] == started["run_id"]
    assert "joined" in json.loads(parsed[0]["data"])["message"]
    assert [frame["event"] for frame in parsed] == ["step", "step", "complete"]


async def test_websocket_full_update_relays_progress_with_the_clients_run_id(stream_settings: Settings) -> None:
    async with live_gateway(stream_settings) as base, httpx.AsyncClient(base_url=base, headers=HEADERS) as client:
        await bootstrap(client)
        async with aconnect_ws(f"{base}/ws", client) as ws, aconnect_ws(f"{base}/ws/virtual-machines", client) as vms:
            await ws.send_json({"api_key": FIRST_KEY})
            await vms.send_json({"api_key": FIRST_KEY})
            assert await ws.receive_text() == "Connected!"
            assert await vms.receive_text() == "Connected!"
            await ws.send_text("nonsense")
            assert (await ws.receive_text()).startswith("Invalid sync command")
            await ws.send_json({"command": "Full Update", "run_id": "corr-0001"})
            started = await ws.receive_json()
            assert started["run_id"] == "corr-0001" and started["status"] == "started"
            run = FakeRun(stream_settings, started["proxbox_run_id"])
            run.item("vm-a")
            run.item("node-1", item_type="device")
            run.complete()
            relayed = [await ws.receive_json(timeout=5) for _ in range(3)]
            guest = await vms.receive_json(timeout=5)
            run.close()
    assert [m["object"] for m in relayed] == ["virtual_machine", "device", "full-update"]
    assert all(m["run_id"] == "corr-0001" for m in relayed)
    assert relayed[-1]["end"] is True and relayed[-1]["status"] == "completed"
    assert guest["object"] == "virtual_machine" and guest["data"]["item"]["name"] == "vm-a"


async def test_a_slow_client_is_cut_off_the_live_feed_yet_loses_nothing(gateway_settings: Settings) -> None:
    keys = Keys(gateway_settings.redis_prefix)
    listener = async_client(gateway_settings, blocking=True)
    reader = async_client(gateway_settings)
    hub = ProgressHub(listener, keys, queue_size=4)
    hub.start()
    await asyncio.wait_for(hub.subscribed.wait(), 5)
    run = FakeRun(gateway_settings)
    run.step(0)
    got: list[str] = []
    fast = hub.subscribe(run.run_id)
    source = run_event_source(hub, reader, keys, run.run_id, None)
    got.append((await anext(source)).entry_id)  # replayed; now subscribed live
    for n in range(1, 40):  # while the slow client does not read
        run.step(n)
    await asyncio.sleep(0.3)
    async for event in source:
        got.append(event.entry_id)
        if len(got) == 40:
            break
    await source.aclose()
    assert got == run.ids
    assert hub.dropped_clients >= 1 and fast.dropped  # the other idle watcher was dropped too
    await hub.stop()
    run.close()
    await listener.aclose()
    await reader.aclose()


async def test_metrics_count_requests_by_route_and_status(gateway_settings: Settings) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        await client.get("/runs/abcdefgh99")
        await client.get("/runs", headers={"X-Proxbox-API-Key": "wrong"})
        text = (await client.get("/metrics")).text
    assert 'proxbox_gateway_requests_total{method="GET",route="/runs/{run_id}",status="404"} 1.0' in text
    assert 'route="/runs",status="401"' in text
    assert 'proxbox_runs{status="queued"} 0.0' in text
    assert "proxbox_gateway_request_seconds_bucket" in text

"""The plugin's stage streams: one run per stage and endpoint, in its framing, joined on retry."""

from __future__ import annotations

import json

import httpx
import pytest

from gateway.routes.stage_streams import STAGE_STREAMS, VM_STAGE_STREAMS
from shared.messages import PLAN_RUN
from shared.settings import Settings, load_settings
from shared.sync.stages import NOT_SYNCED
from tests.integration.gateway_support import FIRST_KEY, FakeRun, bootstrap, live_gateway, parse_sse
from tests.integration.test_gateway_registry import PROXMOX
from tests.integration.test_gateway_runs import drain

pytestmark = pytest.mark.anyio

HEADERS = {"X-Proxbox-API-Key": FIRST_KEY}


@pytest.fixture
def stream_settings(gateway_settings: Settings) -> Settings:
    return load_settings(**{**gateway_settings.model_dump(), "sse_keepalive_s": 0.3})


def events(body: str) -> list[tuple[str, dict[str, object]]]:
    return [(frame["event"], json.loads(frame["data"])) for frame in parse_sse(body) if "event" in frame]


def test_every_stage_of_the_plugins_table_has_a_stream() -> None:
    assert len(STAGE_STREAMS) == 13 and set(VM_STAGE_STREAMS.values()) <= set(STAGE_STREAMS.values())


async def test_a_stage_not_synced_yet_completes_at_once_and_says_so(stream_settings: Settings) -> None:
    async with live_gateway(stream_settings) as base, httpx.AsyncClient(base_url=base, headers=HEADERS) as client:
        await bootstrap(client)
        answers = {path: (await client.get(path, params={"proxmox_endpoint_ids": "1"})).text
                   for path, sync_type in STAGE_STREAMS.items() if sync_type in NOT_SYNCED}  # fmt: skip
        runs = (await client.get("/runs")).json()["total"]
    assert len(answers) == 7
    for path, body in answers.items():
        got = events(body)
        assert [name for name, _ in got] == ["step", "complete"], path
        complete = got[-1][1]
        assert complete["ok"] is True and complete["errors"] == [] and "not synced" in str(complete["message"])
    assert runs == 0


async def test_a_stage_stream_runs_that_stage_and_a_retry_joins_it(stream_settings: Settings) -> None:
    async with live_gateway(stream_settings) as base, httpx.AsyncClient(base_url=base, headers=HEADERS) as client:
        await bootstrap(client)
        assert (await client.post("/proxmox/endpoints", json=PROXMOX)).status_code == 201
        path = "/virtualization/virtual-machines/create/stream"
        query = {"proxmox_endpoint_ids": "1", "overwrite_vm_tags": "true", "sync_mode_vm": "always"}
        # Given the plugin's request for its virtual-machines stage
        async with client.stream("GET", path, params=query) as response:
            raw = ""
            async for chunk in response.aiter_text():
                raw += chunk
                if "\n\n" in raw:
                    break
            run = FakeRun(stream_settings, str(json.loads(parse_sse(raw)[0]["data"])["run_id"]))
        # When it retries the stage while that run is in flight, and the run then finishes
        run.step(1)
        run.complete()
        async with client.stream("GET", path, params=query) as retry:
            body = (await retry.aread()).decode()
        run.close()
    # Then one run of just that stage for that endpoint was queued, and the retry joined it
    [message] = drain(stream_settings, PLAN_RUN.queue_name(stream_settings))
    assert message["kwargs"]["stages"] == ["virtual-machines"] and message["kwargs"]["endpoint_ids"] == [1]
    got = events(body)
    assert got[0][1]["run_id"] == run.run_id and "joined" in str(got[0][1]["message"])
    assert [name for name, _ in got] == ["step", "step", "complete"] and got[-1][1]["ok"] is True


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/virtualization/virtual-machines/abc/create/stream", 422),  # not a NetBox VM id
        ("/virtualization/virtual-machines/7/virtual-disks/create/stream", 409),  # no NetBox to ask
    ],
)
async def test_a_per_vm_stage_that_names_no_guest_is_refused_before_streaming(
    stream_settings: Settings, path: str, status: int
) -> None:
    async with live_gateway(stream_settings) as base, httpx.AsyncClient(base_url=base, headers=HEADERS) as client:
        await bootstrap(client)
        response = await client.get(path)
    assert response.status_code == status and response.headers["content-type"].startswith("application/json")

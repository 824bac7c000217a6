"""The gateway's public probes: what the netbox-proxbox plugin checks first."""

from __future__ import annotations

import pytest

from shared.settings import Settings, load_settings
from tests.conftest import gateway_client

pytestmark = pytest.mark.anyio


async def test_root_says_proxbox_backend(settings: Settings) -> None:
    async with gateway_client(settings) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.json()["message"].startswith("Proxbox Backend")


async def test_health_is_ready_when_every_service_answers(settings: Settings) -> None:
    async with gateway_client(settings) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "init_ok": True}


async def test_health_is_503_naming_what_is_down(settings: Settings) -> None:
    # Given Redis on a port where nothing listens
    broken = load_settings(**{**settings.model_dump(), "redis_url": "redis://127.0.0.1:1/0"})
    async with gateway_client(broken) as client:
        response = await client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["init_ok"] is False
    assert set(body["down"]) == {"redis"}
    assert response.headers["retry-after"] == "5"


async def test_version_reports_capabilities(settings: Settings) -> None:
    async with gateway_client(settings) as client:
        response = await client.get("/version")
    assert response.json()["capabilities"]["ws_run_id"] == 1
    assert response.json()["version"]


async def test_unknown_routes_are_json_404(settings: Settings) -> None:
    async with gateway_client(settings) as client:
        response = await client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


async def test_wrong_method_is_json_405(settings: Settings) -> None:
    async with gateway_client(settings) as client:
        response = await client.post("/version")
    assert response.status_code == 405
    assert "detail" in response.json()

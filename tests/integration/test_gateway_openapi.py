"""``/openapi.json`` describes every route with its models; ``/docs`` works offline."""

from __future__ import annotations

import pytest
from starlette.routing import Route

from gateway.app import all_routes
from gateway.openapi import OPERATIONS
from shared.settings import Settings
from tests.conftest import gateway_client

pytestmark = pytest.mark.anyio


def test_every_route_has_an_operation_entry() -> None:
    routed = {(method, route.path) for route in all_routes() if isinstance(route, Route)
              for method in (route.methods or set()) - {"HEAD"}}  # fmt: skip
    assert routed == set(OPERATIONS)


async def test_the_spec_carries_request_and_response_models(gateway_settings: Settings) -> None:
    async with gateway_client(gateway_settings) as client:
        spec = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    assert spec["openapi"].startswith("3.1")
    post = spec["paths"]["/proxmox/endpoints"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("ProxmoxEndpointIn")
    assert "ProxmoxEndpointOut" in spec["components"]["schemas"]
    assert spec["paths"]["/auth/register-key"]["post"]["security"] == []
    assert spec["components"]["securitySchemes"]["apiKey"]["name"] == "x-proxbox-api-key"
    for path in spec["paths"]:  # every $ref resolves
        for item in spec["paths"][path].values():
            for response in item["responses"].values():
                for media in response.get("content", {}).values():
                    ref = media.get("schema", {}).get("$ref")
                    if ref:
                        assert ref.rsplit("/", 1)[-1] in spec["components"]["schemas"]
    assert docs.status_code == 200 and "/full-update/stream" in docs.text
    assert "http://" not in docs.text and "https://" not in docs.text  # nothing fetched from a CDN

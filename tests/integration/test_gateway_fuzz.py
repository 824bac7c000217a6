"""A small schema-driven fuzz run: every write operation in ``/openapi.json``, type-confused.

schemathesis (``test_gateway_schemathesis.py``) sends requests that match the spec;
this sends the ones that do not: a fixed, reproducible set of wrong types, sizes and
shapes per field, including the routes schemathesis must skip.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from shared.settings import Settings
from tests.conftest import gateway_client
from tests.integration.gateway_support import bootstrap

pytestmark = pytest.mark.anyio

WEIRD: list[Any] = [None, "", "x" * 5000, -1, 0, 2**70, [2**70], 1.5, True, [], {}, ["a"], {"$ref": 1},
                    "1; DROP TABLE api_key", "\u0000\ud7ff", "../../etc/passwd"]  # fmt: skip


def mutations(schema: dict[str, Any], rng: random.Random) -> list[Any]:
    properties = schema.get("properties", {})
    bodies: list[Any] = [None, [], "text", 42, {"unknown_field": 1}]
    for name in properties:
        for value in WEIRD:
            bodies.append({name: value})
    for _ in range(30):  # random combinations of every field at once
        bodies.append({name: rng.choice(WEIRD) for name in properties})
    return bodies


async def test_no_write_operation_answers_500(gateway_settings: Settings) -> None:
    rng = random.Random(7)
    failures = []
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        spec = (await client.get("/openapi.json")).json()
        schemas = spec["components"]["schemas"]
        for path, methods in spec["paths"].items():
            for method, operation in methods.items():
                if method not in {"post", "put", "delete"} or path == "/auth/register-key":
                    continue
                concrete = path.replace("{key_id}", "999").replace("{endpoint_id}", "1").replace(
                    "{run_id}", "abcdefgh0001")  # fmt: skip
                ref = ((operation.get("requestBody") or {}).get("content", {})
                       .get("application/json", {}).get("schema", {}).get("$ref"))  # fmt: skip
                schema = schemas[ref.rsplit("/", 1)[-1]] if ref else {}
                for body in mutations(schema, rng):
                    response = await client.request(method.upper(), concrete, json=body)
                    if response.status_code >= 500 and response.status_code != 503:
                        failures.append((method, concrete, body, response.status_code, response.text))
                    assert response.headers["content-type"].startswith("application/json") or (
                        response.status_code == 204)  # fmt: skip
    assert failures == []

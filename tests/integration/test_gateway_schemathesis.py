"""schemathesis over ``/openapi.json``: generated requests to every operation, none answers 500.

A real ``proxbox-mq gateway`` process serves them (real SQLite, Redis and RabbitMQ,
names isolated per test). Excluded, and why:

- routes that call a peer (NetBox or Proxmox status checks, "Sync now" lookups, a
  fencing notification's node lookup): fuzzed endpoint records hold arbitrary
  hosts, and nothing here may call out (tests/integration/test_gateway_fuzz.py
  covers their bodies with no peer configured);
- ``/full-update/stream`` and the plugin's stage streams: they end only with their
  run (no worker runs here);
- revoking keys (``DELETE /auth/keys/{key_id}``, ``POST .../revoke``): it would revoke the fuzzer's own key and leave
  every later request a 401 (the auth tests cover revocation).

503 is allowed: it is the documented answer when a dependency (e.g. no NetBox
endpoint configured) is missing, not a crash.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from shared.settings import Settings, load_settings
from tests.integration.gateway_support import FIRST_KEY, spawn_gateway, wait_serving

#: (method, path) never fuzzed: they call peers, or stream until a run ends.
EXCLUDED = {
    ("GET", "/netbox/status"), ("GET", "/proxmox/version"), ("POST", "/events/proxmox"),
    ("GET", "/sync/individual/vm"), ("GET", "/sync/individual/vm/{cluster_name}/{node}/{type}/{vmid}"),
    ("POST", "/sync/individual"), ("POST", "/sync/individual/vm"), ("GET", "/full-update/stream"),
    ("DELETE", "/auth/keys/{key_id}"), ("POST", "/auth/keys/{key_id}/revoke"),
}  # fmt: skip
EXAMPLES_PER_OPERATION = 50


@pytest.fixture
def gateway(gateway_settings: Settings, tmp_path: Path) -> Iterator[str]:
    # Generated bad keys must not get the fuzzer throttled (429 for everything after).
    lenient = load_settings(**{**gateway_settings.model_dump(), "auth_max_failures": 1_000_000})
    with open(tmp_path / "gateway.log", "wb") as log:
        process, url = spawn_gateway(lenient, log)
    try:
        wait_serving(url)
        first = httpx.post(f"{url}/auth/register-key", json={"api_key": FIRST_KEY, "label": "fuzz"})
        assert first.status_code == 201, first.text
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
    crashes = [line for line in (tmp_path / "gateway.log").read_text().splitlines() if "Traceback" in line]
    assert crashes == [], "the gateway logged a traceback"


def test_generated_requests_to_every_operation_never_get_a_500(gateway: str) -> None:
    spec = httpx.get(f"{gateway}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    session = requests.Session()
    failures: list[str] = []
    fuzzed = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in EXCLUDED or operation.path.endswith("/stream"):
            continue
        fuzzed += 1

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case) -> None:
            # The key, not a generated one from the security scheme: fuzz what lies behind auth.
            headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "x-proxbox-api-key"}
            case.headers = {**headers, "X-Proxbox-API-Key": FIRST_KEY}
            response = case.call(base_url=gateway, session=session, timeout=15)
            if response.status_code >= 500 and response.status_code != 503:
                failures.append(f"{case.method} {case.formatted_path} {case.body!r}: "
                                f"{response.status_code} {response.text[:200]}")  # fmt: skip
            elif response.status_code != 204 and response.status_code < 500:
                try:  # every answer is JSON, errors included (docs pages and metrics aside)
                    json.loads(response.text) if "json" in response.headers.get("content-type", "") else None
                except ValueError:
                    failures.append(f"{case.method} {case.formatted_path}: body is not JSON")

        call()
    assert fuzzed > 35, "the spec lost its operations"
    assert failures == [], "\n".join(failures[:20])

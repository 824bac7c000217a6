"""API keys: the auth matrix over every route, bootstrap, key management, throttling, WebSockets."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.routing import Route

from gateway.app import all_routes, create_app
from gateway.auth import PUBLIC_PATHS
from shared.apikeys import KeyHasher
from shared.settings import Settings, load_settings
from tests.conftest import gateway_client
from tests.integration.gateway_support import FIRST_KEY, bootstrap

pytestmark = pytest.mark.anyio

PATH_VALUES = {"key_id": "999", "endpoint_id": "1", "run_id": "abcdefgh12", "schedule_id": "1",
               "cluster_name": "cl1", "node": "pve1", "type": "qemu", "vmid": "100", "vm_id": "7"}


def protected_operations() -> list[tuple[str, str]]:
    operations = []
    for route in all_routes():
        if not isinstance(route, Route) or route.path in PUBLIC_PATHS:
            continue
        path = route.path.format(**PATH_VALUES) if "{" in route.path else route.path
        for method in sorted((route.methods or set()) - {"HEAD"}):
            operations.append((method, path))
    return operations


def lenient(settings: Settings, **overrides: object) -> Settings:
    return load_settings(**{**settings.model_dump(), "auth_max_failures": 10_000, **overrides})


async def test_every_protected_route_needs_a_good_key(gateway_settings: Settings) -> None:
    operations = protected_operations()
    assert len(operations) > 25  # the matrix really covers the API
    async with gateway_client(lenient(gateway_settings)) as client:
        await bootstrap(client)
        spare = (await client.post("/auth/keys", json={"label": "spare"})).json()
        assert (await client.delete(f"/auth/keys/{spare['id']}")).status_code == 200
        for method, path in operations:
            missing = await client.request(method, path, headers={"X-Proxbox-API-Key": ""})
            assert missing.status_code == 401, (method, path)
            assert "API key" in missing.json()["detail"]
            revoked = await client.request(method, path, headers={"X-Proxbox-API-Key": spare["raw_key"]})
            assert revoked.status_code == 401, (method, path)
            assert "API key" in revoked.json()["detail"]
            if path.endswith("/stream"):
                continue  # streams that follow a run end only with it (no worker runs here)
            good = await client.request(method, path)
            assert good.status_code != 401, (method, path, good.text)
            assert good.status_code < 500 or path in {"/netbox/status"}, (method, path, good.text)


async def test_public_routes_need_no_key(gateway_settings: Settings) -> None:
    async with gateway_client(gateway_settings) as client:
        for path in ("/", "/version", "/openapi.json", "/docs", "/auth/bootstrap-status"):
            assert (await client.get(path)).status_code == 200, path


async def test_bootstrap_is_201_once_then_409_forever(gateway_settings: Settings) -> None:
    async with gateway_client(gateway_settings) as client:
        assert (await client.get("/auth/bootstrap-status")).json() == {
            "needs_bootstrap": True, "has_db_keys": False}  # fmt: skip
        first = await client.post("/auth/register-key", json={"api_key": FIRST_KEY, "label": "nb"})
        assert first.status_code == 201
        assert isinstance(first.json()["detail"], str)
        again = await client.post("/auth/register-key", json={"api_key": FIRST_KEY + "x", "label": "nb"})
        assert again.status_code == 409
        assert (await client.get("/auth/bootstrap-status")).json() == {
            "needs_bootstrap": False, "has_db_keys": True}  # fmt: skip
        keys = (await client.get("/auth/keys", headers={"X-Proxbox-API-Key": FIRST_KEY})).json()
        record = keys["keys"][0]
        assert record["id"] > 0 and record["label"] == "nb" and record["is_active"] is True
        assert isinstance(record["created_at"], float)


async def test_racing_registrations_admit_exactly_one(gateway_settings: Settings) -> None:
    async with gateway_client(gateway_settings) as client:
        answers = await asyncio.gather(*(
            client.post("/auth/register-key", json={"api_key": f"{FIRST_KEY}{n}", "label": str(n)})
            for n in range(8)
        ))  # fmt: skip
    assert sorted(answer.status_code for answer in answers) == [201] + [409] * 7


async def test_short_or_malformed_keys_are_refused_at_registration(gateway_settings: Settings) -> None:
    async with gateway_client(gateway_settings) as client:
        for body in ({"api_key": "short"}, {"api_key": 5}, {}, {"api_key": FIRST_KEY, "x": 1}):
            response = await client.post("/auth/register-key", json=body)
            assert response.status_code == 422, body
            assert FIRST_KEY not in response.text


async def test_keys_are_stored_only_as_keyed_hashes(gateway_settings: Settings) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        created = (await client.post("/auth/keys", json={"label": "ci"})).json()
    raw = created["raw_key"]
    assert raw.startswith("pbx_") and len(raw) >= 40
    database = gateway_settings.database_url.removeprefix("sqlite:///")
    with open(database, "rb") as handle:
        content = handle.read()
    assert raw.encode() not in content and FIRST_KEY.encode() not in content
    assert KeyHasher.from_settings(gateway_settings).hash(raw).encode() in content
    assert gateway_settings.api_key_pepper_file is not None
    assert gateway_settings.api_key_pepper_file.stat().st_mode & 0o777 == 0o600


async def test_the_last_active_key_cannot_be_revoked(gateway_settings: Settings) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        refused = await client.delete("/auth/keys/1")
        assert refused.status_code == 409
        second = (await client.post("/auth/keys", json={})).json()
        assert (await client.delete("/auth/keys/1")).status_code == 200
        # the first key is gone at once in this process; the second still works
        assert (await client.get("/auth/keys")).status_code == 401
        client.headers["X-Proxbox-API-Key"] = second["raw_key"]
        assert (await client.delete(f"/auth/keys/{second['id']}")).status_code == 409
        assert (await client.delete("/auth/keys/999")).status_code == 404
        assert (await client.delete("/auth/keys/abc")).status_code == 422


async def test_repeated_wrong_keys_are_throttled_with_retry_after(gateway_settings: Settings) -> None:
    throttled = load_settings(**{**gateway_settings.model_dump(), "auth_max_failures": 3})
    async with gateway_client(throttled) as client:
        await bootstrap(client)
        wrong = {"X-Proxbox-API-Key": "pbx_not-a-key-at-all-000000000000000"}
        codes = [(await client.get("/auth/keys", headers=wrong)).status_code for _ in range(5)]
        assert codes == [401, 401, 401, 429, 429]
        blocked = await client.get("/auth/keys")  # even the good key, or guessing would go on
        assert blocked.status_code == 429
        assert 0 < int(blocked.headers["retry-after"]) <= throttled.auth_failure_window_s
        assert "API key" in blocked.json()["detail"]


async def test_key_verification_is_fast(gateway_settings: Settings) -> None:
    hasher = KeyHasher.from_settings(gateway_settings)
    started = time.perf_counter()
    for _ in range(1000):
        hasher.hash(FIRST_KEY)
    assert (time.perf_counter() - started) / 1000 < 0.0005


async def _ws_first_frame(settings: Settings, path: str, frame: object) -> tuple[int | None, str]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = ASGIWebSocketTransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            await client.post("/auth/register-key", json={"api_key": FIRST_KEY, "label": "t"})
            async with aconnect_ws(path, client) as ws:
                await ws.send_json(frame)
                try:
                    message = await ws.receive_text(timeout=5)
                except Exception as exc:  # httpx_ws raises WebSocketDisconnect on close
                    return getattr(exc, "code", None), ""
                return None, message


@pytest.mark.parametrize("path", ["/ws", "/ws/virtual-machines"])
async def test_websockets_close_4001_without_a_good_first_frame(gateway_settings: Settings, path: str) -> None:
    for frame in ({"api_key": "wrong-key-wrong-key-wrong-key-000"}, {"hello": 1}, "not json"):
        code, _ = await _ws_first_frame(gateway_settings, path, frame)
        assert code == 4001, frame
    code, message = await _ws_first_frame(gateway_settings, path, {"api_key": FIRST_KEY})
    assert code is None and message == "Connected!"

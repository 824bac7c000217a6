"""Endpoint registry: plugin-shaped records, secrets encrypted and never shown, rotation, peers."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from gateway.routes.admin import rotate_all
from shared.crypto import SecretBox
from shared.db.engine import build_engine, build_sessionmaker
from shared.db.models import NetBoxEndpoint, ProxmoxEndpoint
from shared.errors import EncryptionUnavailable
from shared.settings import Settings, load_settings
from tests.conftest import gateway_client
from tests.integration.gateway_support import FIRST_KEY, bootstrap

pytestmark = pytest.mark.anyio

NB_TOKEN = "nb-token-0123456789abcdef-SECRET"
NB_KEY = "nbt_keyid-SECRET-KEY"
PVE_PASSWORD = "pve-password-SECRET-42"
PVE_TOKEN = "pve-token-uuid-SECRET-77"
NETBOX = {"name": "NetBox", "ip_address": "127.0.0.1", "domain": "", "port": 443, "verify_ssl": True,
          "token_version": "v2", "token_key": NB_KEY, "token": NB_TOKEN}  # fmt: skip
#: What netbox-proxbox pushes for a Proxmox endpoint (client reference §1.4 step 4).
PROXMOX = {
    "name": "pve-lab (nb:7)", "node_device_name_template": "{node}", "ip_address": "10.0.0.5",
    "domain": "pve.lab", "port": 8006, "username": "root@pam", "password": PVE_PASSWORD,
    "verify_ssl": False, "timeout": 120, "max_retries": 5, "retry_backoff": 2.5,
    "token_name": "sync", "token_value": PVE_TOKEN, "enabled": True,
    "allow_packer_template_builds": False, "access_methods": "api", "site_id": None,
    "site_slug": "", "site_name": None, "tenant_id": None, "tenant_slug": None, "tenant_name": None,
}  # fmt: skip
SECRETS = (NB_TOKEN, NB_KEY, PVE_PASSWORD, PVE_TOKEN)
PLUGIN_FIELDS = {"id", "name", "domain", "ip_address", "port", "username", "verify_ssl", "enabled",
                 "allow_packer_template_builds", "access_methods", "timeout", "max_retries",
                 "retry_backoff"}  # fmt: skip


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


async def test_records_have_the_plugins_fields_and_never_a_secret(
    gateway_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        answers = [await client.post("/netbox/endpoint", json=NETBOX),
                   await client.post("/proxmox/endpoints", json=PROXMOX)]  # fmt: skip
        assert [answer.status_code for answer in answers] == [201, 201]
        pve = answers[1].json()
        assert PLUGIN_FIELDS <= set(pve)
        assert pve["allow_packer_template_builds"] is False and pve["retry_backoff"] == 2.5
        nb = answers[0].json()
        assert {"id", "name", "ip_address", "domain", "port", "token_version", "verify_ssl",
                "enabled"} <= set(nb) and nb["domain"] is None  # fmt: skip
        answers += [
            await client.get("/netbox/endpoint"), await client.get("/netbox/endpoint/1"),
            await client.get("/proxmox/endpoints"), await client.get(f"/proxmox/endpoints/{pve['id']}"),
            await client.put(f"/proxmox/endpoints/{pve['id']}",
                             json={"enabled": False, "allow_packer_template_builds": False}),
            await client.put("/netbox/endpoint/1", json={**NETBOX, "token": NB_TOKEN}),
            await client.post("/netbox/endpoint", json=NETBOX),  # singleton: 409
            await client.post("/proxmox/endpoints", json={**PROXMOX, "password": 5}),  # 422
            await client.get("/admin/encryption"), await client.post("/admin/encryption/rotate"),
            await client.get("/openapi.json"),
        ]  # fmt: skip
        assert answers[6].json()["enabled"] is False
        assert answers[8].status_code == 409 and answers[9].status_code == 422
    for answer in answers:
        assert_no_secret(answer.text)
    assert_no_secret(caplog.text)
    # and in the database only as ciphertext that decrypts back
    engine = build_engine(gateway_settings)
    box = SecretBox.from_settings(gateway_settings)
    with build_sessionmaker(engine)() as session:
        nb_row = session.scalars(select(NetBoxEndpoint)).one()
        pve_row = session.scalars(select(ProxmoxEndpoint)).one()
    engine.dispose()
    assert nb_row.token_enc.startswith("f1:") and box.decrypt(nb_row.token_enc) == NB_TOKEN
    assert box.decrypt(pve_row.token_value_enc or "") == PVE_TOKEN
    assert box.decrypt(pve_row.password_enc or "") == PVE_PASSWORD


async def test_no_encryption_key_means_no_secret_is_stored(gateway_settings: Settings) -> None:
    keyless = load_settings(**{**gateway_settings.model_dump(), "encryption_key": None})
    async with gateway_client(keyless) as client:
        await bootstrap(client)
        refused = await client.post("/proxmox/endpoints", json=PROXMOX)
        assert refused.status_code == 503
        assert "PROXBOX_ENCRYPTION_KEY" in refused.json()["detail"]
        assert (await client.get("/proxmox/endpoints")).json() == []
        assert (await client.get("/admin/encryption")).json()["configured"] is False


async def _store_endpoints(settings: Settings) -> None:
    async with gateway_client(settings) as client:
        await bootstrap(client)
        assert (await client.post("/netbox/endpoint", json=NETBOX)).status_code == 201
        for n in range(3):
            body = {**PROXMOX, "name": f"pve-{n}"}
            assert (await client.post("/proxmox/endpoints", json=body)).status_code == 201


def _secrets_of(settings: Settings, box: SecretBox) -> list[str | None]:
    engine = build_engine(settings)
    with build_sessionmaker(engine)() as session:
        nb = list(session.scalars(select(NetBoxEndpoint)))
        pve = list(session.scalars(select(ProxmoxEndpoint)))
    engine.dispose()
    return [box.decrypt_optional(value) for row in nb for value in (row.token_enc, row.token_key_enc)] + [
        box.decrypt_optional(value) for row in pve for value in (row.password_enc, row.token_value_enc)
    ]  # fmt: skip


async def test_rotation_keeps_every_secret_readable(gateway_settings: Settings) -> None:
    await _store_endpoints(gateway_settings)
    old_key = gateway_settings.encryption_key
    assert old_key is not None
    new_key = Fernet.generate_key().decode()
    rotated = load_settings(**{**gateway_settings.model_dump(), "encryption_key": new_key,
                               "encryption_previous_keys": old_key.get_secret_value()})  # fmt: skip
    before = _secrets_of(rotated, SecretBox.from_settings(rotated))
    async with gateway_client(rotated) as client:
        client.headers["X-Proxbox-API-Key"] = FIRST_KEY
        status = (await client.get("/admin/encryption")).json()
        new_id, old_id = status["key_ids"]
        assert status["active_key_id"] == new_id and status["rows_by_key"] == {old_id: 8}
        result = (await client.post("/admin/encryption/rotate")).json()
        assert result == {"active_key_id": new_id, "reencrypted": 8, "unchanged": 0}
        assert (await client.get("/admin/encryption")).json()["rows_by_key"] == {new_id: 8}
    # readable with the new key alone, and unchanged
    only_new = load_settings(**{**gateway_settings.model_dump(), "encryption_key": new_key})
    assert _secrets_of(only_new, SecretBox.from_settings(only_new)) == before
    assert PVE_PASSWORD in before and NB_TOKEN in before


async def test_a_failed_rotation_changes_nothing(gateway_settings: Settings) -> None:
    await _store_endpoints(gateway_settings)
    engine = build_engine(gateway_settings)
    sessions = build_sessionmaker(engine)
    with sessions.begin() as session:  # one row under a key nobody has any more
        row = session.scalars(select(ProxmoxEndpoint).order_by(ProxmoxEndpoint.id.desc())).first()
        assert row is not None
        row.password_enc = SecretBox([Fernet.generate_key()]).encrypt("lost")
    with sessions() as session:
        before = [(r.id, r.password_enc, r.token_value_enc) for r in session.scalars(select(ProxmoxEndpoint))]
    assert gateway_settings.encryption_key is not None
    box = SecretBox([Fernet.generate_key(), gateway_settings.encryption_key.get_secret_value().encode()])
    with pytest.raises(EncryptionUnavailable, match="not configured"):
        rotate_all(sessions, box)
    with sessions() as session:
        after = [(r.id, r.password_enc, r.token_value_enc) for r in session.scalars(select(ProxmoxEndpoint))]
    engine.dispose()
    assert after == before


BAD_BODIES: list[tuple[str, str, Any]] = [
    ("POST", "/netbox/endpoint", {}),
    ("POST", "/netbox/endpoint", {**NETBOX, "port": "x"}),
    ("POST", "/netbox/endpoint", {**NETBOX, "token_version": "v9"}),
    ("POST", "/netbox/endpoint", [1, 2]),
    ("POST", "/netbox/endpoint", "not json{"),
    ("PUT", "/netbox/endpoint/1", {"port": 70000}),
    ("PUT", "/netbox/endpoint/99", {"port": 1}),
    ("PUT", "/netbox/endpoint/x", {"port": 1}),
    ("DELETE", "/netbox/endpoint/99", None),
    ("POST", "/proxmox/endpoints", {**PROXMOX, "password": None, "token_value": None}),
    ("POST", "/proxmox/endpoints", {**PROXMOX, "timeout": -1}),
    ("POST", "/proxmox/endpoints", {**PROXMOX, "username": ["root"]}),
    ("POST", "/proxmox/endpoints", {**PROXMOX, "surprise": True}),
    ("PUT", "/proxmox/endpoints/1", {"password": "", "token_name": None}),
    ("PUT", "/proxmox/endpoints/1", {"max_retries": "many"}),
    ("PUT", "/proxmox/endpoints/424242", {"enabled": True}),
    ("GET", "/proxmox/endpoints/99999999999999999999999", None),
    ("DELETE", "/proxmox/endpoints/0", None),
    ("POST", "/auth/keys", {"label": 5}),
    ("POST", "/auth/keys", {"label": "x" * 300}),
    ("POST", "/full-update", {"endpoint_ids": ["a"]}),
    ("POST", "/full-update", {"endpoint_ids": [99]}),
    ("POST", "/full-update", {"stages": ["Bad Stage!"]}),
    ("POST", "/full-update", {"stages": ["backupz"]}),
    ("POST", "/schedules", {"name": "s", "interval_s": 60, "stages": ["nope"]}),
    ("POST", "/sync/individual", {"endpoint_id": 1}),
    ("POST", "/sync/individual", {"endpoint_id": 77, "vmid": 100}),
    ("POST", "/sync/individual", {"endpoint_id": 1, "vmid": -5}),
    ("POST", "/sync/individual", {"endpoint_id": 2**70, "vmid": 100}),
    ("POST", "/full-update", {"endpoint_ids": [2**70]}),
    ("GET", "/runs?limit=abc", None),
    ("GET", "/runs?status=weird", None),
    ("GET", "/runs/x", None),
    ("GET", "/runs/abcdefgh99", None),
    ("DELETE", "/runs/abcdefgh99", None),
    ("GET", "/runs/abcdefgh99/events", None),
    ("GET", "/proxmox/version?proxmox_endpoint_ids=1,x", None),
    ("GET", "/proxmox/version?proxmox_endpoint_ids=555", None),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD_BODIES)
async def test_bad_input_is_a_4xx_json_answer(
    gateway_settings: Settings, method: str, path: str, body: Any
) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        assert (await client.post("/netbox/endpoint", json=NETBOX)).status_code == 201
        assert (await client.post("/proxmox/endpoints", json=PROXMOX)).status_code == 201
        content = body if isinstance(body, str) else None
        response = await client.request(method, path, json=None if content else body, content=content)
    assert 400 <= response.status_code < 500, response.text
    assert "detail" in response.json()
    assert_no_secret(response.text)


@pytest.mark.parametrize("path", ["/netbox/endpoint", "/proxmox/endpoints", "/auth/keys", "/full-update"])
async def test_huge_bodies_are_413(gateway_settings: Settings, path: str) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        body = b'{"name": "' + b"x" * (gateway_settings.max_body_bytes + 10) + b'"}'
        declared = await client.post(path, content=body, headers={"Content-Type": "application/json"})

        async def chunks() -> Any:  # no Content-Length: counted while it streams in
            for _ in range(20):
                yield b"x" * (gateway_settings.max_body_bytes // 10)

        streamed = await client.post(path, content=chunks())
    assert declared.status_code == 413 and streamed.status_code == 413
    assert "bytes" in declared.json()["detail"]


async def test_live_checks_against_the_proxmox_simulator(gateway_settings: Settings, pve: Any) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        by_token = {**PROXMOX, "name": "sim-token", "ip_address": pve.host, "domain": None,
                    "port": pve.port, "username": pve.user, "password": None,
                    "token_name": pve.token_name, "token_value": pve.token_secret}  # fmt: skip
        by_password = {**by_token, "name": "sim-password", "password": pve.password,
                       "token_name": None, "token_value": None}  # fmt: skip
        wrong = {**by_password, "name": "sim-wrong", "password": "nope"}
        ids = [(await client.post("/proxmox/endpoints", json=body)).json()["id"]
               for body in (by_token, by_password, wrong)]  # fmt: skip
        answer = await client.get(f"/proxmox/version?proxmox_endpoint_ids={','.join(map(str, ids))}")
    results = {result["name"]: result for result in answer.json()}
    assert answer.status_code == 200
    assert results["sim-token"]["ok"] and results["sim-token"]["version"]
    assert results["sim-password"]["ok"]
    assert not results["sim-wrong"]["ok"] and results["sim-wrong"]["status_code"] == 401
    assert pve.password not in answer.text and pve.token_secret not in answer.text


async def test_netbox_status_reports_an_unreachable_netbox_as_502(gateway_settings: Settings) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        assert (await client.get("/netbox/status")).status_code == 404
        body = {**NETBOX, "ip_address": "127.0.0.1", "port": 1, "verify_ssl": False}
        assert (await client.post("/netbox/endpoint", json=body)).status_code == 201
        answer = await client.get("/netbox/status")
    assert answer.status_code == 502 and answer.json()["ok"] is False
    assert_no_secret(answer.text)

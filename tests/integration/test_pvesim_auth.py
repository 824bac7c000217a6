"""Simulator authentication: tickets, CSRF, API tokens, privileges and TLS, as PVE does them."""

from __future__ import annotations

import httpx
import pytest
import requests
from proxmoxer import AuthenticationError, ProxmoxAPI
from proxmoxer.core import ResourceException

from tests.pvesim.handle import SimEndpoint


def _login(pve: SimEndpoint, client: httpx.Client) -> tuple[str, str]:
    data = client.post("/access/ticket",
                       data={"username": pve.user, "password": pve.password}).json()["data"]
    return data["ticket"], data["CSRFPreventionToken"]


@pytest.fixture
def raw(pve: SimEndpoint) -> httpx.Client:
    with httpx.Client(base_url=pve.url, verify=False, timeout=10) as client:
        yield client


def test_ticket_auth_with_proxmoxer_reads_the_cluster(pve: SimEndpoint) -> None:
    prox = pve.proxmox("ticket")
    assert prox.version.get()["release"] == "9.1"
    assert {n["node"] for n in prox.nodes.get()} == {"pve1", "pve2", "pve3"}


def test_token_auth_with_proxmoxer_reads_the_cluster(pve: SimEndpoint) -> None:
    prox = pve.proxmox("token")
    assert pve.token_id == "root@pam!sync"
    assert len(prox.cluster.resources.get(type="vm")) == 20


def test_ticket_answer_has_pve_shape(pve: SimEndpoint, raw: httpx.Client) -> None:
    data = raw.post("/access/ticket",
                    data={"username": "root@pam", "password": pve.password}).json()["data"]
    assert data["username"] == "root@pam"
    assert data["clustername"] == pve.name
    assert data["ticket"].startswith("PVE:root@pam:") and "::" in data["ticket"]
    stamp, _, mac = data["CSRFPreventionToken"].partition(":")
    assert len(stamp) == 8 and len(mac) == 43
    assert data["cap"]["vms"]["VM.PowerMgmt"] == 1


def test_ticket_can_be_renewed_by_posting_it_as_password(pve: SimEndpoint,
                                                         raw: httpx.Client) -> None:
    ticket, _ = _login(pve, raw)
    renewed = raw.post("/access/ticket", data={"username": "root@pam", "password": ticket})
    assert renewed.status_code == 200


def test_bad_password_is_401_with_message_body(pve: SimEndpoint, raw: httpx.Client) -> None:
    resp = raw.post("/access/ticket", data={"username": "root@pam", "password": "wrong"})
    assert resp.status_code == 401
    assert resp.reason_phrase == "authentication failure"
    assert resp.json() == {"data": None, "message": "authentication failure\n"}
    with pytest.raises(AuthenticationError):
        pve.proxmox("ticket", password="wrong")


def test_no_credentials_is_401_no_ticket_with_empty_body(raw: httpx.Client) -> None:
    resp = raw.get("/nodes")
    assert resp.status_code == 401
    assert resp.reason_phrase == "No ticket"
    assert resp.content == b""
    assert resp.headers["connection"] == "close"


@pytest.mark.parametrize(("version", "reason"), [
    ("9.1.4", "permission denied - invalid PVE ticket"),
    ("9.1.5", "Authentication failed!"),
])
def test_forged_ticket_text_depends_on_version(pvesim, version: str, reason: str) -> None:
    pve = pvesim(version=version, guests=2)[0]
    forged = {"PVEAuthCookie": "PVE:root@pam:6813A9C4::Zm9v"}
    with httpx.Client(base_url=pve.url, verify=False, cookies=forged) as client:
        resp = client.get("/nodes")
    assert (resp.status_code, resp.reason_phrase, resp.content) == (401, reason, b"")


def test_bad_token_secret_is_401(pve: SimEndpoint, raw: httpx.Client) -> None:
    resp = raw.get("/nodes", headers={"Authorization": f"PVEAPIToken={pve.token_id}=nope"})
    assert resp.status_code == 401
    assert resp.content == b""


def test_ticket_write_without_csrf_is_rejected(pve: SimEndpoint, raw: httpx.Client) -> None:
    # Given a valid ticket cookie but no CSRFPreventionToken header
    ticket, csrf = _login(pve, raw)
    raw.cookies.set("PVEAuthCookie", ticket)
    # When a write is attempted
    resp = raw.post("/nodes/pve2/qemu/101/status/start")
    # Then PVE refuses it at the auth stage
    assert resp.status_code == 401
    assert resp.reason_phrase == "Permission denied - invalid csrf token"
    assert resp.content == b""
    # And with the header the same write is accepted and returns a UPID
    ok = raw.post("/nodes/pve2/qemu/101/status/start", headers={"CSRFPreventionToken": csrf})
    assert ok.status_code == 200 and ok.json()["data"].startswith("UPID:pve2:")


def test_ticket_reads_need_no_csrf(pve: SimEndpoint, raw: httpx.Client) -> None:
    ticket, _ = _login(pve, raw)
    raw.cookies.set("PVEAuthCookie", ticket)
    assert raw.get("/cluster/status").status_code == 200


def test_token_writes_need_no_csrf(pve: SimEndpoint, raw: httpx.Client) -> None:
    resp = raw.post("/nodes/pve2/qemu/101/status/start", headers=pve.auth_header())
    assert resp.status_code == 200


def test_token_cannot_create_tickets(pve: SimEndpoint, raw: httpx.Client) -> None:
    resp = raw.post("/access/ticket", headers=pve.auth_header(),
                    data={"username": "root@pam", "password": pve.password})
    assert resp.status_code == 403
    assert "not available with API token" in resp.reason_phrase


def test_auditor_token_reads_but_cannot_power_guests(pve: SimEndpoint) -> None:
    prox = pve.proxmox(token="audit@pve!ro")
    assert prox.cluster.status.get()
    with pytest.raises(ResourceException) as err:
        prox.nodes("pve2").qemu(101).status.start.post()
    assert err.value.status_code == 403
    assert err.value.content == "Permission check failed (/vms/101, VM.PowerMgmt)"


def test_privsep_token_without_grants_sees_empty_lists_and_403(pve: SimEndpoint) -> None:
    # Given a privilege-separated token nobody granted anything
    prox = pve.proxmox(token="root@pam!empty")
    # Then guest lists are silently empty rather than refused
    assert prox.cluster.resources.get(type="vm") == []
    assert prox.nodes("pve1").qemu.get() == []
    # But Sys.Audit endpoints are refused
    with pytest.raises(ResourceException) as err:
        prox.cluster.status.get()
    assert err.value.status_code == 403


def test_verify_ssl_fails_against_the_self_signed_certificate(pve: SimEndpoint) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        ProxmoxAPI(pve.host, port=pve.port, user=pve.user, password=pve.password,
                   verify_ssl=True, timeout=5)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{pve.url}/version", verify=True)

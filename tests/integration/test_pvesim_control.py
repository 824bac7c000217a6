"""The test-facing side: estate mutations, request counts, latency and fault injection, /_sim."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import requests
from proxmoxer.core import ResourceException

from tests.pvesim.handle import SimEndpoint


def _vm(prox: Any, vmid: int) -> dict[str, Any]:
    return next(r for r in prox.cluster.resources.get(type="vm") if r["vmid"] == vmid)


def test_rename_ip_change_and_stop_are_visible(pve: SimEndpoint) -> None:
    prox = pve.proxmox()
    pve.rename_guest(100, "web01-new")
    pve.set_guest_ip(100, "198.18.99.7/24")
    pve.stop_guest(106)
    assert _vm(prox, 100)["name"] == "web01-new"
    assert "ip=198.18.99.7/24" in prox.nodes("pve1").qemu(100).config.get()["ipconfig0"]
    assert _vm(prox, 106)["status"] == "stopped"


def test_dhcp_lease_change_shows_in_container_interfaces(pve: SimEndpoint) -> None:
    pve.set_guest_ip(103, "198.18.77.9/24", nic=1)
    eth1 = next(i for i in pve.proxmox().nodes("pve1").lxc(103).interfaces.get()
                if i["name"] == "eth1")
    assert eth1["inet"] == "198.18.77.9/24"


def test_add_move_and_remove_guests(pve: SimEndpoint) -> None:
    prox = pve.proxmox()
    guest = pve.add_guest(kind="lxc", name="new01", node="pve2", tags="x;y",
                          nics=[{"ip": "198.18.50.5/24", "tag": 30}, {"ip": "dhcp"}])
    row = _vm(prox, guest.vmid)
    assert (row["type"], row["name"], row["node"], row["tags"]) == ("lxc", "new01", "pve2", "x;y")
    pve.move_guest(guest.vmid, "pve3")
    assert _vm(prox, guest.vmid)["node"] == "pve3"
    pve.remove_guest(guest.vmid)
    assert guest.vmid not in {r["vmid"] for r in prox.cluster.resources.get(type="vm")}


def test_request_counts_per_path(pve: SimEndpoint) -> None:
    prox = pve.proxmox()
    pve.reset_counts()
    prox.cluster.resources.get(type="vm")
    for vmid in (100, 106):
        prox.nodes("pve1").qemu(vmid).config.get()
    assert pve.request_count("/cluster/resources") == 1
    assert pve.request_count("/nodes/*/qemu/*/config", method="GET") == 2
    assert pve.requests == {"GET /cluster/resources": 1, "GET /nodes/pve1/qemu/100/config": 1,
                            "GET /nodes/pve1/qemu/106/config": 1}


def test_latency_is_added_to_every_request(pve: SimEndpoint) -> None:
    prox = pve.proxmox()
    pve.set_latency(0.2)
    started = time.monotonic()
    prox.version.get()
    assert time.monotonic() - started >= 0.2


def test_injected_errors_hit_only_matching_paths_and_count(pve: SimEndpoint) -> None:
    prox = pve.proxmox()
    pve.inject_fault("/nodes/*/qemu/*/config", status=500, message="got timeout", times=1)
    with pytest.raises(ResourceException) as err:
        prox.nodes("pve1").qemu(100).config.get()
    assert err.value.content == "got timeout"
    assert prox.nodes("pve1").qemu(100).config.get()["name"] == "web01"  # only once
    pve.inject_fault("/cluster/resources", status=596)
    with pytest.raises(ResourceException) as err:
        prox.cluster.resources.get()
    assert (err.value.status_code, err.value.content) == (596, "Connection timed out")
    pve.clear_faults()
    assert prox.cluster.resources.get()


def test_error_rate_is_seeded_and_partial(pve: SimEndpoint) -> None:
    pve.inject_fault("/version", status=503, rate=0.5)
    with httpx.Client(base_url=pve.url, verify=False, headers=pve.auth_header()) as client:
        codes = [client.get("/version").status_code for _ in range(40)]
    assert 5 < codes.count(503) < 35 and codes.count(200) == 40 - codes.count(503)


def test_slow_answers_make_clients_time_out(pve: SimEndpoint) -> None:
    pve.inject_fault("/cluster/resources", status=0, latency=1.5)
    prox = pve.proxmox(timeout=0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        prox.cluster.resources.get()


def test_control_api_over_http(pve: SimEndpoint) -> None:
    base = f"https://{pve.host}:{pve.port}/_sim"
    with httpx.Client(verify=False) as client:
        created = client.post(f"{base}/guests", json={"name": "via-http", "node": "pve1"})
        vmid = created.json()["vmid"]
        client.patch(f"{base}/guests/{vmid}", json={"name": "via-http-2", "status": "stopped"})
        client.post(f"{base}/nodes/pve3/offline", json={"status": 596})
        client.post(f"{base}/faults", json={"path": "/pools", "status": 500})
        state = client.get(f"{base}/state").json()
        counts = client.get(f"{base}/counts").json()
    assert pve.guest(vmid).name == "via-http-2" and pve.guest(vmid).status == "stopped"
    assert state["nodes"]["pve3"] == {"online": False}
    assert counts["total"] == 0  # control calls are not API requests
    assert [r.path for r in pve.runtime.faults.rules()] == ["/pools"]


def test_several_clusters_each_on_its_own_port(pvesim) -> None:
    sim = pvesim(clusters=2, guests=5)
    first, second = sim.endpoints
    assert first.port != second.port
    assert first.proxmox().cluster.status.get()[0]["name"] == "cl1"
    assert second.proxmox().cluster.status.get()[0]["name"] == "cl2"
    # Same vmid on both clusters, different guests behind it
    a = first.proxmox().nodes("pve1").qemu(100).config.get()
    b = second.proxmox().nodes("pve1").qemu(100).config.get()
    assert a["net0"] != b["net0"]

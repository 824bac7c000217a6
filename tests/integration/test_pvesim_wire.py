"""Wire-level faithfulness: envelope, Perl-typed JSON, error status lines, proxy errors."""

from __future__ import annotations

import httpx
import pytest
from proxmoxer.core import ResourceException

from tests.pvesim.handle import SimEndpoint


@pytest.fixture
def api(pve: SimEndpoint) -> httpx.Client:
    with httpx.Client(base_url=pve.url, verify=False, headers=pve.auth_header(),
                      timeout=10) as client:
        yield client


def test_success_is_wrapped_in_data_with_pve_headers(api: httpx.Client) -> None:
    resp = api.get("/version")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json;charset=UTF-8"
    assert resp.headers["server"] == "pve-api-daemon/3.0"
    assert resp.headers["cache-control"] == "max-age=0"
    assert set(resp.json()) == {"data"}


def test_large_answers_are_gzipped_when_allowed(api: httpx.Client) -> None:
    resp = api.get("/cluster/resources", headers={"Accept-Encoding": "gzip"})
    assert resp.headers["content-encoding"] == "gzip"
    assert len(resp.json()["data"]) > 20


def test_booleans_are_zero_or_one_never_json_true(api: httpx.Client) -> None:
    status = api.get("/cluster/status").json()["data"]
    nodes = [row for row in status if row["type"] == "node"]
    assert all(row["online"] in (0, 1) and type(row["online"]) is int for row in nodes)
    assert sum(row["local"] for row in nodes) == 1
    resources = api.get("/cluster/resources", params={"type": "vm"}).text
    assert "true" not in resources and "false" not in resources


def test_numbers_parsed_from_config_text_are_strings(api: httpx.Client) -> None:
    config = api.get("/nodes/pve1/qemu/100/config").json()["data"]
    assert isinstance(config["memory"], str) and config["memory"].isdigit()
    assert isinstance(config["cores"], int)
    network = api.get("/nodes/pve1/network").json()["data"]
    vlan = next(i for i in network if i["type"] == "vlan")
    assert vlan["vlan-id"] == "20" and vlan["netmask"] == "24"
    loadavg = api.get("/nodes/pve1/status").json()["data"]["loadavg"]
    assert all(isinstance(v, str) for v in loadavg)


def test_memory_is_an_integer_before_8_1(pvesim) -> None:
    pve = pvesim(version="8.0.4", guests=1)[0]
    assert isinstance(pve.proxmox().nodes("pve1").qemu(100).config.get()["memory"], int)


def test_lxc_vmid_is_a_string_before_8_2(pvesim) -> None:
    pve = pvesim(version="8.1.3", guests=4)[0]
    assert pve.proxmox().nodes("pve1").lxc.get()[0]["vmid"] == "103"


def test_config_carries_a_digest_that_changes_with_the_config(pve: SimEndpoint,
                                                              api: httpx.Client) -> None:
    before = api.get("/nodes/pve1/qemu/100/config").json()["data"]["digest"]
    assert len(before) == 40
    pve.rename_guest(100, "web01-renamed")
    after = api.get("/nodes/pve1/qemu/100/config").json()["data"]["digest"]
    assert after != before


def test_handler_error_is_in_status_line_and_message_body(api: httpx.Client) -> None:
    resp = api.get("/nodes/pve2/qemu/100/config")  # vm 100 lives on pve1
    text = "Configuration file 'nodes/pve2/qemu-server/100.conf' does not exist"
    assert resp.status_code == 500
    assert resp.reason_phrase == text
    assert resp.json() == {"data": None, "message": text + "\n"}
    assert resp.headers["connection"] == "close"


def test_pre_8_4_error_body_has_no_message(pvesim) -> None:
    pve = pvesim(version="8.3.2", guests=2)[0]
    with httpx.Client(base_url=pve.url, verify=False, headers=pve.auth_header()) as client:
        resp = client.get("/nodes/pve2/qemu/100/config")
    assert resp.status_code == 500
    assert resp.reason_phrase.startswith("Configuration file")
    assert resp.json() == {"data": None}


def test_parameter_errors_are_400_with_errors_object(api: httpx.Client) -> None:
    resp = api.get("/cluster/resources", params={"type": "pool"})
    assert resp.status_code == 400
    assert resp.reason_phrase == "Parameter verification failed."
    assert resp.json()["errors"] == {
        "type": "value 'pool' does not have a value in the enumeration 'vm, storage, node, sdn'"
    }


def test_python_true_is_rejected_like_pve_does(pve: SimEndpoint) -> None:
    # proxmoxer sends a Python bool as the string "True", which PVE's validator refuses
    with pytest.raises(ResourceException) as err:
        pve.proxmox().nodes("pve1").qemu(100).migrate.post(target="pve2", online=True)
    assert err.value.status_code == 400
    assert err.value.errors == {"online": "type check ('boolean') failed - got 'True'"}


def test_proxmoxer_sees_the_status_line_text(pve: SimEndpoint) -> None:
    with pytest.raises(ResourceException) as err:
        pve.proxmox().nodes("pve1").qemu(106).agent("network-get-interfaces").get()
    assert str(err.value) == "500 Internal Server Error: No QEMU guest agent configured"


def test_unknown_path_and_head_are_501(api: httpx.Client) -> None:
    resp = api.get("/nodes/pve1/bogus")
    assert resp.status_code == 501
    assert resp.reason_phrase == "Method 'GET /nodes/pve1/bogus' not implemented"
    assert api.head("/version").status_code == 501
    assert api.delete("/version").reason_phrase == "Method 'DELETE /version' not implemented"


@pytest.mark.parametrize(("status", "reason"), [(595, "No route to host"),
                                                (596, "Connection timed out")])
def test_offline_node_answers_595_or_596_with_empty_body(pve: SimEndpoint, api: httpx.Client,
                                                         status: int, reason: str) -> None:
    # Given node pve3 is down
    pve.take_node_offline("pve3", status=status)
    # When a call must be proxied to it
    resp = api.get("/nodes/pve3/qemu")
    # Then pveproxy answers with its proxy error and no body
    assert (resp.status_code, resp.reason_phrase, resp.content) == (status, reason, b"")
    # While cluster-level reads still work and show it offline
    status_rows = api.get("/cluster/status").json()["data"]
    pve3 = next(r for r in status_rows if r.get("name") == "pve3")
    assert pve3["online"] == 0
    node_rows = api.get("/cluster/resources", params={"type": "node"}).json()["data"]
    assert next(r for r in node_rows if r["node"] == "pve3")["status"] == "offline"


def test_offline_node_with_expired_rrd_shows_unknown_guests(pve: SimEndpoint,
                                                            api: httpx.Client) -> None:
    pve.take_node_offline("pve3", rrd_expired=True)
    rows = api.get("/cluster/resources", params={"type": "vm"}).json()["data"]
    on_pve3 = [r for r in rows if r["node"] == "pve3"]
    assert on_pve3 and all(r["status"] == "unknown" and "name" not in r for r in on_pve3)


def test_proxmoxer_renders_595_like_the_real_world(pve: SimEndpoint) -> None:
    pve.take_node_offline("pve2")
    with pytest.raises(ResourceException) as err:
        pve.proxmox().nodes("pve2").status.get()
    assert err.value.status_code == 595
    assert err.value.content == "No route to host"


def test_unknown_node_is_a_hostname_lookup_failure(api: httpx.Client) -> None:
    resp = api.get("/nodes/nosuch/status")
    assert resp.status_code == 500
    assert resp.reason_phrase.startswith("hostname lookup 'nosuch' failed")


def test_reason_phrase_passthrough_does_not_leak_the_private_header(api: httpx.Client) -> None:
    resp = api.get("/nodes/pve2/qemu/100/config")
    assert "x-pvesim-reason" not in resp.headers

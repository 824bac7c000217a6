"""Guest details in the real NetBox: interfaces, MACs, VLANs, IPs, disks; moves, prunes, conflicts.

The simulator's awkward guests cover 0, 1, 3 and 24 NICs (router01), access and trunk
ports, IPv4 + IPv6, DHCP containers (dns01, ct-batch01 stopped), agent off (legacy01),
agent configured but dead (win01), stopped VMs and a template.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from shared.db.models import RunStatus
from shared.settings import Settings
from tests.e2e.details_support import (
    actual_iface,
    expected_disks,
    expected_iface,
    expected_ips,
    ip_home,
    netbox_details,
)
from tests.e2e.sync_support import (
    add_netbox_endpoint,
    add_proxmox_endpoint,
    netbox_vms,
    run_events,
    start_run,
    sync_settings,
    wait_run,
    worker_process,
    write_count,
)

pytestmark = pytest.mark.netbox


def _vm_ids(nb: Any) -> dict[int, int]:
    return {vm["custom_fields"]["proxmox_vm_id"]: vm["id"] for vm in netbox_vms(nb, cf_proxmox_endpoint_id__gte=0)}


def _run(settings: Settings, worker: Any) -> tuple[str, Any]:
    run_id = start_run(settings)
    row = wait_run(settings, run_id, worker)
    assert row.status == RunStatus.SUCCEEDED, (row.error_summary, worker.log_tail())
    return run_id, row


def _assert_estate(nb: Any, guests: list[Any]) -> None:
    vm_ids, found = _vm_ids(nb), netbox_details(nb)
    counts = {len(g.nics) for g in guests}
    assert {0, 1, 3, 24} <= counts
    for guest in guests:
        vm = vm_ids[guest.vmid]
        mine = {name: i for (v, name), i in found["ifaces"].items() if v == vm}
        assert sorted(mine) == sorted(f"net{n.index}" for n in guest.nics), guest.name
        for nic in guest.nics:
            assert actual_iface(mine[f"net{nic.index}"]) == expected_iface(nic), (guest.name, nic.index)
        disks = {name: size for (v, name), size in found["disks"].items() if v == vm}
        assert disks == expected_disks(guest), guest.name
        ips = {ip["address"]: ip_home(ip) for ip in found["ips"] if (ip_home(ip) or (0,))[0] == vm}
        assert ips == {a: (vm, nic) for a, nic in expected_ips(guest).items()}, guest.name
    hosts = [ip["address"].split("/")[0] for ip in found["ips"]]
    assert len(hosts) == len(set(hosts)), "one record per address"


def _assert_node_network(nb: Any, sim: Any) -> None:
    """Bonds as LAGs with members, bridge ports, VLAN parents, addresses, the node's primary IP."""
    for node, node_ip in ((n, sim.cluster.nodes[n].ip) for n in sim.cluster.nodes):
        device = nb.get("/dcim/devices/", params={"name": node}).json()["results"][0]
        ifaces = {i["name"]: i for i in nb.get("/dcim/interfaces/", params={"device_id": device["id"]}).json()["results"]}
        assert ifaces["bond0"]["type"]["value"] == "lag" and ifaces["vmbr0"]["type"]["value"] == "bridge"
        assert ifaces["eno1"]["lag"]["id"] == ifaces["eno2"]["lag"]["id"] == ifaces["bond0"]["id"]
        assert ifaces["bond0"]["bridge"]["id"] == ifaces["vmbr0"]["id"]
        assert ifaces["vmbr0.20"]["parent"]["id"] == ifaces["vmbr0"]["id"]
        ips = nb.get("/ipam/ip-addresses/", params={"device_id": device["id"]}).json()["results"]
        assert {ip["assigned_object"]["name"] for ip in ips} == {"vmbr0", "vmbr0.20"}
        assert device["primary_ip4"]["address"].split("/")[0] == node_ip
        # IPv6 primary: the address of the same bridge (vmbr0's cidr6)
        vmbr0 = next(i.fields for i in sim.cluster.nodes[node].ifaces if i.fields["iface"] == "vmbr0")
        assert device["primary_ip6"]["address"] == str(ipaddress.ip_interface(vmbr0["cidr6"]))


def test_estate_details_land_exactly_and_an_unchanged_rerun_writes_nothing(
    gateway_settings: Settings, netbox: Any, pvesim: Any, tmp_path: Path
) -> None:
    sim = pvesim(clusters=1, nodes=2, guests=16, seed=3)[0]
    settings = sync_settings(gateway_settings, sync_batch_size=6)
    add_netbox_endpoint(settings, netbox.url, netbox.token_v2)
    add_proxmox_endpoint(settings, sim)
    with worker_process(settings, tmp_path) as worker, netbox.client() as nb:
        run_id, row = _run(settings, worker)
        guests = sim.guests()
        _assert_estate(nb, guests)
        vms = {vm["name"]: vm for vm in nb.get("/virtualization/virtual-machines/",
                                                params={"limit": 100}).json()["results"]}  # fmt: skip
        web = next(g for g in guests if g.name == "web01")
        assert vms["web01"]["primary_ip4"]["address"] == web.nics[0].ipv4
        groups = nb.get("/ipam/vlan-groups/").json()["results"]
        assert [g["scope_type"] for g in groups] == ["virtualization.cluster"]
        assert row.counts["vm_interface"]["created"] == sum(len(g.nics) for g in guests)
        items = [e for e in run_events(settings, run_id) if e["event"] == "item_progress"]
        assert {"vm_interface", "mac_address", "ip_address", "virtual_disk", "vlan"} <= {
            e["item"]["item_type"] for e in items}

        _assert_node_network(nb, sim)

        before = write_count(nb)
        _, row = _run(settings, worker)
        assert write_count(nb) == before, "an unchanged re-run must not write to NetBox"
        assert set(row.counts["vm_interface"]) == {"unchanged"}


def test_moves_prunes_and_conflicts(gateway_settings: Settings, netbox: Any, pvesim: Any, tmp_path: Path) -> None:
    sim = pvesim(clusters=1, nodes=2, guests=14, seed=5)[0]
    settings = sync_settings(gateway_settings, sync_batch_size=4)
    add_netbox_endpoint(settings, netbox.url, netbox.token_v2)
    add_proxmox_endpoint(settings, sim)
    guests = sim.guests()
    # Two running guests whose addresses the sync reads, and a third one whose address
    # somebody recorded by hand in NetBox before proxbox-mq ever ran.
    web = next(g for g in guests if g.name == "web01")
    dns = next(g for g in guests if g.name == "dns01")
    held = next(g for g in guests if g.name == "router01")
    stolen = held.nics[1].ipv4
    with worker_process(settings, tmp_path) as worker, netbox.client() as nb:
        manual = nb.post("/ipam/ip-addresses/", json={"address": stolen, "description": "by hand"}).json()
        run_id, _ = _run(settings, worker)
        conflicts = [e for e in run_events(settings, run_id) if e["event"] == "item_progress"
                     and "conflict" in (e.get("warning") or "")]  # fmt: skip
        assert len(conflicts) == 1 and stolen in conflicts[0]["warning"]
        still = nb.get(f"/ipam/ip-addresses/{manual['id']}/").json()
        assert still["assigned_object_id"] is None and still["tags"] == []

        moved = web.nics[0].ipv4  # web01's address now belongs to dns01; web01 gets a new one
        sim.set_guest_ip(web.vmid, "198.18.63.250/24", nic=0)
        sim.set_guest_ip(dns.vmid, moved, nic=0)
        sim.update_guest(web.vmid, nics=web.nics[:2], disks=web.disks[:-1])
        keep = next(g for g in guests if g.kind == "qemu" and len(g.nics) >= 1 and g.vmid not in (web.vmid,)
                    and g.status == "running" and g.name != "router01")  # fmt: skip
        sim.inject_fault(f"/nodes/*/qemu/{keep.vmid}/config", status=403, message="Permission check failed")
        keep_count = len(keep.nics)
        sim.update_guest(keep.vmid, nics=[])
        _run(settings, worker)

        vm_ids, found = _vm_ids(nb), netbox_details(nb)
        records = [ip for ip in found["ips"] if ip["address"].split("/")[0] == moved.split("/")[0]]
        assert [ip_home(ip) for ip in records] == [(vm_ids[dns.vmid], "net0")]
        vm = nb.get(f"/virtualization/virtual-machines/{vm_ids[web.vmid]}/").json()
        assert vm["primary_ip4"]["address"] == "198.18.63.250/24"
        assert sorted(n for (v, n) in found["ifaces"] if v == vm_ids[web.vmid]) == ["net0", "net1"]
        disks = {n: s for (v, n), s in found["disks"].items() if v == vm_ids[web.vmid]}
        assert disks == expected_disks(sim.guest(web.vmid)) and vm["disk"] == sum(disks.values())
        kept = [n for (v, n) in found["ifaces"] if v == vm_ids[keep.vmid]]
        assert len(kept) == keep_count >= 1, "a guest whose config was not read keeps its NICs"

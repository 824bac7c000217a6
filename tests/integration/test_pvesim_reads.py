"""Every inventory read a sync makes, through proxmoxer with ticket and with token auth."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from proxmoxer.core import ResourceException

from tests.pvesim.handle import SimEndpoint

GUEST_NET = ipaddress.ip_network("198.18.0.0/15")


@pytest.fixture(params=["ticket", "token"])
def prox(request: pytest.FixtureRequest, pve: SimEndpoint) -> Any:
    return pve.proxmox(request.param)


def test_version(prox: Any) -> None:
    assert prox.version.get() == {"version": "9.1.4", "release": "9.1",
                                  "repoid": prox.version.get()["repoid"]}


def test_cluster_status_lists_cluster_then_nodes(prox: Any) -> None:
    rows = prox.cluster.status.get()
    assert rows[0] == {"type": "cluster", "id": "cluster", "name": "cl1", "nodes": 3,
                       "quorate": 1, "version": 7}
    assert {r["name"] for r in rows[1:]} == {"pve1", "pve2", "pve3"}


def test_resources_type_vm_returns_qemu_and_lxc_only(prox: Any) -> None:
    rows = prox.cluster.resources.get(type="vm")
    assert {r["type"] for r in rows} == {"qemu", "lxc"}
    web01 = next(r for r in rows if r["vmid"] == 100)
    assert web01["id"] == "qemu/100" and web01["tags"] == "prod;web"
    assert web01["hastate"] == "started" and web01["pool"] == "production"
    assert "memhost" in web01  # PVE 9


def test_resources_unfiltered_has_pools_nodes_storage_sdn(prox: Any) -> None:
    types = {r["type"] for r in prox.cluster.resources.get()}
    assert types == {"pool", "qemu", "lxc", "node", "storage", "sdn"}
    pool = next(r for r in prox.cluster.resources.get() if r["type"] == "pool")
    assert pool["id"].startswith("/pool/")


def test_nodes_and_node_status(prox: Any) -> None:
    nodes = prox.nodes.get()
    assert all(n["status"] == "online" and n["ssl_fingerprint"] for n in nodes)
    status = prox.nodes("pve1").status.get()
    assert status["pveversion"].startswith("pve-manager/9.1.4/")
    assert status["boot-info"] == {"mode": "efi", "secureboot": 0}


def test_node_network_with_type_filter(prox: Any) -> None:
    bridges = prox.nodes("pve1").network.get(type="bridge")
    assert [b["iface"] for b in bridges] == ["vmbr0", "vmbr1"]
    assert bridges[0]["bridge_vlan_aware"] == 1 and bridges[0]["cidr"] == "10.10.0.11/24"


def test_qemu_list_config_and_status(prox: Any) -> None:
    vms = prox.nodes("pve1").qemu.get()
    assert 100 in {v["vmid"] for v in vms}
    config = prox.nodes("pve1").qemu(100).config.get()
    assert config["net0"].startswith("virtio=BC:24:11:") and ",tag=10" in config["net0"]
    assert config["ide2"] == "none,media=cdrom"  # a CD-ROM, not a disk
    assert {"scsi0", "efidisk0", "tpmstate0"} <= set(config)
    current = prox.nodes("pve1").qemu(100).status.current.get()
    assert current["status"] == "running" and current["ha"] == {"managed": 1, "state": "started"}


def test_qemu_agent_network_interfaces(prox: Any) -> None:
    result = prox.nodes("pve1").qemu(100).agent("network-get-interfaces").get()["result"]
    assert result[0]["name"] == "lo"
    eth = result[1]
    assert eth["hardware-address"] == eth["hardware-address"].lower()
    v4 = [a for a in eth["ip-addresses"] if a["ip-address-type"] == "ipv4"]
    assert ipaddress.ip_address(v4[0]["ip-address"]) in GUEST_NET


@pytest.mark.parametrize(("node", "vmid", "error"), [
    ("pve1", 106, "No QEMU guest agent configured"),  # legacy01: agent off
    ("pve2", 101, "VM 101 is not running"),  # build01: stopped
    ("pve2", 107, "QEMU guest agent is not running"),  # win01: agent dead
])
def test_qemu_agent_errors_like_pve(prox: Any, node: str, vmid: int, error: str) -> None:
    with pytest.raises(ResourceException) as err:
        prox.nodes(node).qemu(vmid).agent("network-get-interfaces").get()
    assert err.value.status_code == 500 and err.value.content == error


def test_lxc_list_config_and_interfaces(prox: Any) -> None:
    cts = prox.nodes("pve1").lxc.get()
    dns01 = next(c for c in cts if c["vmid"] == 103)
    assert dns01["type"] == "lxc" and dns01["name"] == "dns01"
    config = prox.nodes("pve1").lxc(103).config.get()
    assert config["hostname"] == "dns01" and config["rootfs"].endswith(",size=8G")
    assert "ip=dhcp" in config["net1"] and "ip6=auto" in config["net1"]
    interfaces = prox.nodes("pve1").lxc(103).interfaces.get()
    eth1 = next(i for i in interfaces if i["name"] == "eth1")
    families = {a["ip-address-type"] for a in eth1["ip-addresses"]}
    assert families == {"inet", "inet6"}  # not ipv4/ipv6 as the QEMU agent says


def test_stopped_container_interfaces_are_null(prox: Any) -> None:
    assert prox.nodes("pve1").lxc(109).interfaces.get() is None


def test_snapshots_end_with_current(prox: Any) -> None:
    snaps = prox.nodes("pve1").qemu(100).snapshot.get()
    assert snaps[-1]["name"] == "current" and snaps[-1]["description"] == "You are here!"
    assert snaps[0]["name"] == "baseline"
    assert prox.nodes("pve1").lxc(103).snapshot.get()[-1]["name"] == "current"


def test_storage_views(prox: Any) -> None:
    assert {s["storage"] for s in prox.storage.get()} == {"local", "local-lvm", "ceph-vm",
                                                          "pbs01"}
    node_storage = prox.nodes("pve1").storage.get()
    assert all(0 <= s["used_fraction"] <= 1 for s in node_storage)
    backups = prox.nodes("pve1").storage("pbs01").content.get(content="backup")
    assert backups and all(b["content"] == "backup" and b["format"].startswith("pbs-")
                           for b in backups)
    local = prox.nodes("pve1").storage("local").content.get(content="backup")
    assert all(b["volid"].startswith("local:backup/vzdump-") for b in local)


def test_backup_jobs_and_replication(prox: Any) -> None:
    jobs = prox.cluster.backup.get()
    assert jobs[0]["type"] == "vzdump" and jobs[0]["prune-backups"]["keep-daily"] == "7"
    repl = prox.cluster.replication.get()
    assert repl and repl[0]["id"] == f"{repl[0]['guest']}-0"


def test_ha_on_pve9_has_rules_and_no_groups(prox: Any) -> None:
    resources = prox.cluster.ha.resources.get()
    assert {"sid": "vm:100", "type": "vm"}.items() <= resources[0].items()
    assert "failback" in resources[0] and "group" not in resources[0]
    status = prox.cluster.ha.status.current.get()
    assert [r["type"] for r in status[:3]] == ["quorum", "master", "fencing"]
    rules = prox.cluster.ha.rules.get()
    assert rules[0]["rule"].startswith("ha-group-") and rules[0]["type"] == "node-affinity"
    with pytest.raises(ResourceException) as err:
        prox.cluster.ha.groups.get()
    assert err.value.content == "cannot index groups: ha groups have been migrated to rules"


def test_ha_on_pve8_has_groups(pvesim) -> None:
    prox = pvesim(version="8.3.2")[0].proxmox()
    groups = prox.cluster.ha.groups.get()
    assert groups[0]["type"] == "group" and groups[0]["nodes"].startswith("pve1:2")
    assert prox.cluster.ha.resources.get()[0]["group"] == "prefer-pve1"
    assert "fencing" not in [r["type"] for r in prox.cluster.ha.status.current.get()]


def test_pools(prox: Any) -> None:
    assert {p["poolid"] for p in prox.pools.get()} == {"production", "lab", "archive"}
    members = prox.pools.get(poolid="production")[0]["members"]
    assert 100 in {m["vmid"] for m in members}


def test_tasks_lists_status_and_log(prox: Any) -> None:
    cluster_tasks = prox.cluster.tasks.get()
    assert cluster_tasks and all(t["saved"] in ("0", "1") for t in cluster_tasks)
    node_tasks = prox.nodes("pve1").tasks.get()
    upid = node_tasks[0]["upid"]
    assert prox.nodes("pve1").tasks(upid).status.get()["exitstatus"] == "OK"
    log = prox.nodes("pve1").tasks(upid).log.get()
    assert log[-1] == {"n": len(log), "t": "TASK OK"}


def test_standalone_node_has_no_cluster_entry(pvesim) -> None:
    sim = pvesim(clusters=0, standalone=1, guests=3)
    rows = sim[0].proxmox().cluster.status.get()
    assert len(rows) == 1 and rows[0]["type"] == "node" and rows[0]["nodeid"] == 0

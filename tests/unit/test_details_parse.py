"""Parsing guest NICs, disks and addresses; the primary IP rule."""

from __future__ import annotations

from shared.sync.addresses import (
    agent_addresses,
    canonical,
    guest_addresses,
    lxc_runtime_addresses,
    primary,
)
from shared.sync.disks import parse_disks
from shared.sync.guest_read import _agent_enabled
from shared.sync.nics import parse_nics, parse_trunks


def test_qemu_nics_model_mac_vlans_and_flags() -> None:
    nics = parse_nics("qemu", {
        "net1": "e1000=bc:24:11:00:00:02,bridge=vmbr1,link_down=1,mtu=9000",
        "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1,tag=10,trunks=20;30",
        "netx": "junk", "name": "vm",
    })  # fmt: skip
    assert [n.name for n in nics] == ["net0", "net1"]
    assert (nics[0].model, nics[0].mac, nics[0].tag, nics[0].trunks, nics[0].firewall) == (
        "virtio", "BC:24:11:00:00:01", 10, (20, 30), True)
    assert (nics[1].mac, nics[1].link_down, nics[1].mtu, nics[1].tag) == ("BC:24:11:00:00:02", True, 9000, None)


def test_lxc_nics_static_and_dynamic_addresses() -> None:
    (nic,) = parse_nics("lxc", {"net0": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:AA:BB:CC,ip=dhcp,"
                                        "ip6=2001:db8::5/64,type=veth"})  # fmt: skip
    assert (nic.guest_name, nic.ipv4_mode, nic.ipv6_mode, nic.static) == ("eth0", "dhcp", "static", ("2001:db8::5/64",))


def test_trunk_ranges_and_junk() -> None:
    assert parse_trunks("10;12-14;x;5000;0") == (10, 12, 13, 14)


def test_disks_every_kind_but_cdrom_and_unused() -> None:
    disks = parse_disks({
        "scsi0": "local-lvm:vm-1-disk-0,size=32G", "virtio1": "ceph:vm-1-disk-1,size=1T",
        "efidisk0": "local-lvm:vm-1-disk-2,size=528K", "tpmstate0": "local-lvm:vm-1-disk-3,size=4M",
        "ide2": "local:iso/d.iso,media=cdrom,size=628M", "ide0": "none,media=cdrom", "unused0": "x:vm-1-disk-9",
        "rootfs": "local:vm-1-disk-4,size=8G", "mp0": "local:vm-1-disk-5,mp=/data,size=10G",
    })  # fmt: skip
    assert {d.slot: d.size_mb for d in disks} == {"efidisk0": 0, "mp0": 10240, "rootfs": 8192, "scsi0": 32768,
                                                 "tpmstate0": 4, "virtio1": 1048576}  # fmt: skip
    assert next(d for d in disks if d.slot == "scsi0").volume == "local-lvm:vm-1-disk-0"


def test_canonical_skips_loopback_link_local() -> None:
    assert canonical("127.0.0.1", 8) is None and canonical("fe80::1", 64) is None and canonical("169.254.1.1/16") is None
    assert canonical("2001:0db8:0::5", 64) == "2001:db8::5/64" and canonical("bogus") is None


def test_agent_matched_by_mac_and_primary_rule() -> None:
    nics = parse_nics("qemu", {"net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0",
                               "net1": "virtio=BC:24:11:00:00:02,bridge=vmbr0"})  # fmt: skip
    answer = {"result": [
        {"name": "lo", "hardware-address": "00:00:00:00:00:00",
         "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8}]},
        {"name": "ens19", "hardware-address": "bc:24:11:00:00:02",
         "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "10.0.1.2", "prefix": 24}]},
        {"name": "ens18", "hardware-address": "bc:24:11:00:00:01",
         "ip-addresses": [{"ip-address-type": "ipv6", "ip-address": "fe80::1", "prefix": 64},
                          {"ip-address-type": "ipv4", "ip-address": "10.0.0.2", "prefix": 24},
                          {"ip-address-type": "ipv6", "ip-address": "2001:db8::2", "prefix": 64}]},
        {"name": "ens18:1", "hardware-address": "bc:24:11:00:00:01",
         "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "10.0.0.3", "prefix": 24}]},
    ]}  # fmt: skip
    found = guest_addresses("qemu", nics, agent_addresses(answer))
    assert found.complete
    assert [(a.nic, a.address) for a in found.addresses] == [
        ("net0", "10.0.0.2/24"), ("net0", "2001:db8::2/64"), ("net0", "10.0.0.3/24"), ("net1", "10.0.1.2/24")]
    p4, p6 = primary(found.addresses, 4), primary(found.addresses, 6)
    assert p4 is not None and p4.address == "10.0.0.2/24" and p6 is not None and p6.address == "2001:db8::2/64"
    assert not guest_addresses("qemu", nics, None).complete


def test_lxc_runtime_both_shapes_and_stopped_completeness() -> None:
    nics = parse_nics("lxc", {"net0": "name=eth0,hwaddr=BC:24:11:00:00:01,ip=10.0.0.5/24,bridge=vmbr0",
                              "net1": "name=eth1,hwaddr=BC:24:11:00:00:02,ip=dhcp,bridge=vmbr0"})  # fmt: skip
    legacy = [{"name": "eth1", "hwaddr": "bc:24:11:00:00:02", "inet": "10.0.9.9/24"}]
    modern = [{"name": "eth1", "hwaddr": "bc:24:11:00:00:02",
               "ip-addresses": [{"ip-address": "10.0.9.9", "ip-address-type": "inet", "prefix": 24}]}]
    assert lxc_runtime_addresses(legacy) == lxc_runtime_addresses(modern) == {"bc:24:11:00:00:02": ["10.0.9.9/24"]}
    running = guest_addresses("lxc", nics, lxc_runtime_addresses(modern))
    assert [(a.nic, a.address, a.status) for a in running.addresses] == [
        ("net0", "10.0.0.5/24", "active"), ("net1", "10.0.9.9/24", "dhcp")]
    stopped = guest_addresses("lxc", nics, None)
    assert [a.address for a in stopped.addresses] == ["10.0.0.5/24"] and not stopped.complete
    assert guest_addresses("lxc", nics[:1], None).complete  # static only: the config says it all


def test_agent_flag_forms() -> None:
    assert _agent_enabled(1) and _agent_enabled("1,fstrim_cloned_disks=1") and _agent_enabled("enabled=1,type=virtio")
    assert not _agent_enabled("0") and not _agent_enabled(None) and not _agent_enabled("enabled=0")

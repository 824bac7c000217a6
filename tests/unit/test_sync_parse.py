"""Lenient Proxmox parsing: drifting types become values or warnings, never dropped guests."""

from __future__ import annotations

from shared.sync.parse import (
    as_int,
    disk_size_mb,
    parse_cluster_status,
    parse_guest_config,
    parse_resource_guests,
    split_tags,
)


def test_numbers_arrive_as_ints_strings_or_property_strings() -> None:
    assert [as_int(v) for v in (2048, "2048", "current=4096", 1.9, "x", None, True)] == [
        2048, 2048, 4096, 1, None, None, 1,
    ]  # fmt: skip


def test_tags_split_on_any_separator_sorted_and_unique() -> None:
    assert split_tags("web;Prod, db web") == ("db", "Prod", "web")
    assert split_tags(None) == ()


def test_cluster_status_of_a_cluster_and_of_a_standalone_node() -> None:
    cluster = parse_cluster_status(
        [{"type": "cluster", "name": "prod"}, {"type": "node", "name": "pve2", "online": 0},
         {"type": "node", "name": "pve1", "online": 1, "ip": "10.0.0.1"}], "fallback")  # fmt: skip
    assert (cluster.name, cluster.standalone) == ("prod", False)
    assert [(n.name, n.online) for n in cluster.nodes] == [("pve1", True), ("pve2", False)]
    alone = parse_cluster_status([{"type": "node", "name": "edge1", "nodeid": 0, "online": 1}], "x")
    assert (alone.name, alone.standalone) == ("edge1", True)


def test_resources_keep_guests_without_rrd_data_and_string_vmids() -> None:
    guests, warnings = parse_resource_guests([
        {"id": "qemu/9000", "type": "qemu", "vmid": 9000, "node": "pve3", "status": "unknown"},
        {"id": "lxc/200", "type": "lxc", "vmid": "200", "node": "pve1", "name": "ct", "template": 0,
         "tags": "a;b", "maxmem": 1073741824},
        {"id": "node/pve1", "type": "node"},
        {"id": "qemu/x", "type": "qemu"},
    ])  # fmt: skip
    assert [(g.type, g.vmid, g.name) for g in guests] == [("lxc", 200, "ct"), ("qemu", 9000, None)]
    assert guests[0].tags == ("a", "b") and guests[0].maxmem == 1073741824
    assert len(warnings) == 1


def test_qemu_config_sums_disks_but_not_cdroms_or_unused_volumes() -> None:
    config = parse_guest_config("qemu", {
        "name": "web01", "cores": 4, "sockets": 2, "memory": "8192", "tags": "prod;web",
        "scsi0": "ceph:vm-100-disk-0,size=32G", "efidisk0": "ceph:vm-100-disk-1,size=528K",
        "ide2": "local:iso/debian.iso,media=cdrom,size=628M", "unused0": "ceph:vm-100-disk-9",
        "description": "notes", "onboot": 1,
    })  # fmt: skip
    assert (config.name, config.vcpus, config.memory_mib, config.disk_mb) == ("web01", 8, 8192, 32768)
    assert config.tags == ("prod", "web") and config.onboot is True and config.warnings == ()


def test_lxc_config_and_a_field_that_does_not_parse_becomes_a_warning() -> None:
    config = parse_guest_config("lxc", {"hostname": "ct1", "cores": 2, "memory": "lots",
                                        "rootfs": "local:vm-1-disk-0,size=8G"})  # fmt: skip
    assert (config.name, config.vcpus, config.memory_mib, config.disk_mb) == ("ct1", 2, None, 8192)
    assert config.warnings and "memory" in config.warnings[0]


def test_disk_sizes() -> None:
    assert disk_size_mb("s:v,size=1T") == 1024 * 1024
    assert disk_size_mb("none,media=cdrom") is None
    assert disk_size_mb("s:v,backup=0") is None

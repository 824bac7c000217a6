"""Diff of child objects: an unchanged interface gives no write; VLAN modes; read-form lists."""

from __future__ import annotations

from typing import Any

from shared.sync.children import Child, ChildKind, reconcile
from shared.sync.nics import parse_nics
from shared.sync.vm_interfaces import _normalize_iface, desired_iface


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def create(self, path: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.calls.append(("POST", path, bodies))
        return [{"id": 1000 + i, **b} for i, b in enumerate(bodies)]

    def update(self, path: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.calls.append(("PATCH", path, bodies))
        return bodies

    def delete(self, path: str, ids: list[int]) -> None:
        self.calls.append(("DELETE", path, ids))


VLANS = {10: 110, 20: 120, 30: 130}


def test_vlan_modes() -> None:
    access, trunk, plain = parse_nics("qemu", {"net0": "virtio=BC:24:11:00:00:01,tag=10",
                                              "net1": "virtio=BC:24:11:00:00:02,tag=10,trunks=30;20",
                                              "net2": "virtio=BC:24:11:00:00:03"})  # fmt: skip
    assert (desired_iface(1, access, VLANS)["mode"], desired_iface(1, access, VLANS)["untagged_vlan"]) == ("access", 110)
    body = desired_iface(1, trunk, VLANS)
    assert (body["mode"], body["untagged_vlan"], body["tagged_vlans"]) == ("tagged", 110, [120, 130])
    assert desired_iface(1, plain, VLANS)["mode"] == "" and desired_iface(1, plain, VLANS)["tagged_vlans"] == []


def test_unchanged_interface_read_form_writes_nothing_and_gone_ones_are_pruned() -> None:
    (nic,) = parse_nics("qemu", {"net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0,trunks=20;30"})
    read_form = {"id": 7, "name": "net0", "virtual_machine": {"id": 1, "name": "vm"}, "enabled": True,
                 "description": "virtio on vmbr0", "mode": {"value": "tagged", "label": "Tagged"},
                 "untagged_vlan": None, "tagged_vlans": [{"id": 130, "vid": 30}, {"id": 120, "vid": 20}],
                 "tags": [{"id": 5, "slug": "proxbox"}]}  # fmt: skip
    stale = {"id": 8, "name": "net9", "tags": [{"id": 5}]}
    hand_made = {"id": 9, "name": "mgmt", "tags": []}
    client = Recorder()
    current = {(1, "net0"): read_form, (1, "net9"): stale, (1, "mgmt"): hand_made}
    kind = ChildKind("virtualization/interfaces/", "vm_interface", 5, normalize=_normalize_iface)
    result = reconcile(client, kind, current, [Child((1, "net0"), desired_iface(1, nic, VLANS), "vm net0")],  # type: ignore[arg-type]
                       prune=lambda key, obj: True)  # fmt: skip
    assert client.calls == [("DELETE", "virtualization/interfaces/", [8])]  # never the hand-made one
    assert [o.action for o in result.outcomes] == ["unchanged", "deleted"]
    assert result.ids == {(1, "net0"): 7}


def test_new_objects_get_the_managed_tag_and_patches_keep_foreign_tags() -> None:
    client = Recorder()
    current = {"b": {"id": 2, "size": 1, "tags": [{"id": 9}]}}
    desired = [Child("a", {"size": 5}, "a"), Child("b", {"size": 2}, "b")]
    reconcile(client, ChildKind("virtualization/virtual-disks/", "virtual_disk", 5), current, desired,  # type: ignore[arg-type]
              prune=lambda key, obj: True)  # fmt: skip
    assert client.calls == [("POST", "virtualization/virtual-disks/", [{"size": 5, "tags": [5]}]),
                            ("PATCH", "virtualization/virtual-disks/", [{"id": 2, "size": 2, "tags": [5, 9]}])]  # fmt: skip

"""Deterministic NetBox names: unique in a cluster, within NetBox's length limit."""

from __future__ import annotations

from shared.sync.models import GuestRef
from shared.sync.naming import NETBOX_NAME_MAX, resolve_names


def guest(vmid: int, name: str | None, kind: str = "qemu") -> GuestRef:
    return GuestRef(vmid=vmid, type=kind, node="pve1", name=name)  # type: ignore[arg-type]


def test_the_lowest_vmid_keeps_a_shared_name_and_the_others_get_their_vmid() -> None:
    named, renamed = resolve_names([guest(108, "legacy01"), guest(106, "Legacy01"), guest(100, "web")])
    assert [g.netbox_name for g in named] == ["web", "Legacy01", "legacy01 (108)"]
    assert [(r.original, r.resolved) for r in renamed] == [("legacy01", "legacy01 (108)")]


def test_the_same_input_in_any_order_gives_the_same_names() -> None:
    guests = [guest(101, "a"), guest(102, "a"), guest(103, "a", "lxc")]
    first, _ = resolve_names(guests)
    second, _ = resolve_names(list(reversed(guests)))
    assert [g.netbox_name for g in first] == [g.netbox_name for g in second]


def test_a_name_held_by_a_retired_vm_counts_as_taken() -> None:
    named, renamed = resolve_names([guest(120, "old-db")], taken=["OLD-DB"])
    assert named[0].netbox_name == "old-db (120)" and renamed


def test_long_names_are_cut_to_the_limit_with_the_suffix_kept_whole() -> None:
    long = "x" * 100
    named, _ = resolve_names([guest(100, long), guest(101, long)])
    assert [len(g.netbox_name or "") for g in named] == [NETBOX_NAME_MAX, NETBOX_NAME_MAX]
    assert (named[1].netbox_name or "").endswith(" (101)")


def test_a_guest_without_a_name_gets_a_stable_fallback() -> None:
    named, _ = resolve_names([guest(9000, None), guest(200, None, "lxc")])
    assert [g.netbox_name for g in named] == ["ct-200", "vm-9000"]

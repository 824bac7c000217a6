"""A node's primary IPs: the address it serves the cluster on, and its other family beside it."""

from __future__ import annotations

from shared.sync.node_network import primary_hosts

ROWS = [
    {"iface": "vmbr0", "cidr": "10.10.0.11/24", "cidr6": "fd00:10:10:0::11/64"},
    {"iface": "vmbr0.20", "cidr": "10.20.0.11/24"},
]


def test_the_served_ipv4_is_primary_and_the_same_bridges_ipv6_beside_it() -> None:
    assert primary_hosts("10.10.0.11", ROWS) == {"primary_ip4": "10.10.0.11", "primary_ip6": "fd00:10:10::11"}


def test_a_node_served_over_ipv6_gets_that_address_as_primary_ip6() -> None:
    assert primary_hosts("fd00:10:10:0:0::11", ROWS) == {"primary_ip4": "10.10.0.11", "primary_ip6": "fd00:10:10::11"}


def test_an_interface_without_the_other_family_sets_only_one() -> None:
    assert primary_hosts("10.20.0.11", ROWS) == {"primary_ip4": "10.20.0.11"}
    assert primary_hosts("192.0.2.9", ROWS) == {"primary_ip4": "192.0.2.9"}

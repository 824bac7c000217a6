"""Deterministic MAC and IP allocation for simulated guests.

Guest addresses come from 198.18.0.0/15 (RFC 2544 benchmarking space): routable
looking, never loopback, never colliding with a real LAN. Each cluster owns a
/18 block of it so that two clusters never hand out the same address (up to 8
clusters; beyond that blocks wrap, which the README documents). IPv6 addresses
are derived from the IPv4 one inside 2001:db8::/32 so a test can predict both.
"""

from __future__ import annotations

import ipaddress

GUEST_NET = ipaddress.IPv4Network("198.18.0.0/15")
BLOCK_SIZE = 1 << 14  # 16384 addresses per cluster
PROXMOX_OUI = "BC:24:11"  # default MAC prefix since PVE 8.1


class AddressAllocator:
    def __init__(self, cluster_index: int) -> None:
        self.cluster_index = cluster_index
        blocks = GUEST_NET.num_addresses // BLOCK_SIZE
        self._base = int(GUEST_NET.network_address) + (cluster_index % blocks) * BLOCK_SIZE
        self._next_host = 0
        self._next_mac = 0

    def next_ipv4(self) -> ipaddress.IPv4Address:
        """Next free host address, skipping .0 (network), .1 (gateway) and .255."""
        while True:
            offset = self._next_host % BLOCK_SIZE
            self._next_host += 1
            if offset % 256 not in (0, 1, 255):
                return ipaddress.IPv4Address(self._base + offset)

    def next_cidr4(self) -> tuple[str, str]:
        """A `/24` address and its gateway, as PVE configs write them."""
        addr = self.next_ipv4()
        gateway = ipaddress.IPv4Address(int(addr) & ~0xFF | 1)
        return f"{addr}/24", str(gateway)

    def ipv6_for(self, cidr4: str) -> tuple[str, str]:
        """Global IPv6 twin of an IPv4 address: 2001:db8:<cluster>:<subnet>::<host>/64."""
        addr = int(ipaddress.IPv4Address(cidr4.split("/")[0]))
        subnet = (addr >> 8) & 0xFFFF
        host = addr & 0xFF
        net = f"2001:db8:{self.cluster_index:x}:{subnet:x}"
        return f"{net}::{host:x}/64", f"{net}::1"

    def next_mac(self) -> str:
        value = ((self.cluster_index & 0x3F) << 18) | (self._next_mac & 0x3FFFF)
        self._next_mac += 1
        octets = [(value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF]
        return PROXMOX_OUI + ":" + ":".join(f"{o:02X}" for o in octets)


def link_local_for(mac: str) -> str:
    """The EUI-64 fe80:: address a Linux guest derives from its MAC."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    groups = [f"{(eui[i] << 8) | eui[i + 1]:x}" for i in range(0, 8, 2)]
    return "fe80::" + ":".join(groups)

"""Which addresses a guest's NICs hold: guest agent (QEMU), config and ``/interfaces`` (LXC).

Addresses are matched to NICs by MAC (agent and LXC interface names are the
guest's own: ``ens18``, ``Ethernet 2``, ``eth0``; an alias such as ``ens18:1``
shares its NIC's MAC and so lands on the same NIC). Loopback, link-local,
multicast and unspecified addresses are skipped.

A guest's address set is *complete* when Proxmox told us everything its NICs
hold (agent answered; LXC running with ``/interfaces`` read, or only static
addresses). Only a complete set prunes addresses and sets the primary IPs;
otherwise what is known is added and nothing is removed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.sync.models import Frozen
from shared.sync.nics import GuestNic


class NicAddress(Frozen):
    nic: str  # "net0"
    address: str  # CIDR, canonical ("198.18.0.5/24", "2001:db8::5/64")
    status: str = "active"  # NetBox IP status: active, dhcp, slaac

    @property
    def host(self) -> str:
        return self.address.split("/", 1)[0]

    @property
    def family(self) -> int:
        return 6 if ":" in self.address else 4


class GuestAddresses(Frozen):
    addresses: tuple[NicAddress, ...] = ()
    complete: bool = False


def canonical(address: str, prefix: object = None) -> str | None:
    """``"198.18.0.5", 24`` or ``"198.18.0.5/24"`` -> canonical CIDR; None when skipped."""
    text = f"{address}/{prefix}" if prefix is not None and "/" not in address else address
    try:
        iface = ipaddress.ip_interface(text.strip())
    except ValueError:
        return None
    ip = iface.ip
    if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return None
    return str(iface)


def agent_addresses(answer: Any) -> dict[str, list[str]]:
    """QEMU agent ``network-get-interfaces`` -> ``{lower-case MAC: [cidr, ...]}``."""
    rows = answer.get("result") if isinstance(answer, dict) else answer
    found: dict[str, list[str]] = {}
    for row in rows if isinstance(rows, list) else []:
        mac = str(row.get("hardware-address") or "").lower()
        for item in row.get("ip-addresses") or []:
            cidr = canonical(str(item.get("ip-address") or ""), item.get("prefix"))
            if mac and cidr:
                found.setdefault(mac, []).append(cidr)
    return found


def lxc_runtime_addresses(answer: Any) -> dict[str, list[str]]:
    """LXC ``/interfaces`` (``ip-addresses`` from 8.4, else ``inet``/``inet6``) by MAC."""
    found: dict[str, list[str]] = {}
    for row in answer if isinstance(answer, list) else []:
        mac = str(row.get("hwaddr") or row.get("hardware-address") or "").lower()
        if row.get("ip-addresses"):
            raw = [(i.get("ip-address"), i.get("prefix")) for i in row["ip-addresses"]]
        else:
            raw = [(row.get(k), None) for k in ("inet", "inet6") if row.get(k)]
        for address, prefix in raw:
            cidr = canonical(str(address or ""), prefix)
            if mac and cidr:
                found.setdefault(mac, []).append(cidr)
    return found


def guest_addresses(
    kind: str, nics: Sequence[GuestNic], runtime: Mapping[str, list[str]] | None
) -> GuestAddresses:
    """Addresses per NIC; ``runtime`` is the agent's / ``/interfaces`` answer by MAC (None: unread)."""
    out: list[NicAddress] = []
    for nic in nics:
        seen: set[str] = set()
        cidrs = [c for c in (canonical(s) for s in nic.static) if c]
        if runtime is not None and nic.mac:
            cidrs += runtime.get(nic.mac.lower(), [])
        for cidr in cidrs:
            host = cidr.split("/", 1)[0]
            if host not in seen:
                seen.add(host)
                out.append(NicAddress(nic=nic.name, address=cidr, status=_status(nic, cidr)))
    dynamic = any(n.ipv4_mode in ("dhcp",) or n.ipv6_mode in ("dhcp", "auto") for n in nics)
    complete = runtime is not None or (kind == "lxc" and not dynamic)
    return GuestAddresses(addresses=tuple(out), complete=complete)


def _status(nic: GuestNic, cidr: str) -> str:
    """NetBox IP status: what the LXC config says about how the address is obtained."""
    if cidr in {canonical(s) for s in nic.static}:
        return "active"
    mode = nic.ipv6_mode if ":" in cidr else nic.ipv4_mode
    return {"dhcp": "dhcp", "auto": "slaac"}.get(mode or "", "active")


def primary(addresses: Iterable[NicAddress], family: int) -> NicAddress | None:
    """The primary IP rule: the first address of that family on the lowest-numbered NIC
    that has one, in the order the guest reports them (static config addresses first)."""
    ordered = sorted((a for a in addresses if a.family == family), key=lambda a: int(a.nic[3:]))
    return ordered[0] if ordered else None

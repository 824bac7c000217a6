"""Guest NICs from a Proxmox config: QEMU ``netN`` and LXC ``netN`` property strings.

QEMU: ``virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1,tag=10,trunks=20;30``
(the first pair is ``model=MAC``). LXC: ``name=eth0,bridge=vmbr0,hwaddr=...,
ip=10.0.0.5/24,gw=...,ip6=auto,tag=10,type=veth``. Parsing is lenient: a value
that does not parse is left out, never a dropped NIC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from shared.sync.models import Frozen
from shared.sync.parse import as_bool, as_int

_NET_KEY = re.compile(r"^net(\d+)$")
_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
#: LXC ``ip=``/``ip6=`` values that are not an address (the guest gets one at run time).
DYNAMIC = ("dhcp", "auto", "manual")


class GuestNic(Frozen):
    """One ``netN`` of a guest; becomes a NetBox VM interface named ``netN``."""

    index: int
    mac: str | None = None  # upper case, ``BC:24:11:..``, as NetBox stores MACs
    model: str | None = None  # QEMU only (virtio, e1000, ...)
    guest_name: str | None = None  # LXC ``name=eth0``
    bridge: str | None = None
    tag: int | None = None
    trunks: tuple[int, ...] = ()
    firewall: bool = False
    link_down: bool = False
    mtu: int | None = None
    #: LXC static addresses (``ip=``/``ip6=`` in CIDR form).
    static: tuple[str, ...] = Field(default_factory=tuple)
    ipv4_mode: str | None = None  # "static", "dhcp", ... (LXC)
    ipv6_mode: str | None = None

    @property
    def name(self) -> str:
        return f"net{self.index}"


def split_props(spec: str) -> dict[str, str]:
    """``a=1,b=2,flag`` -> ``{"a": "1", "b": "2", "flag": ""}``."""
    out: dict[str, str] = {}
    for part in spec.split(","):
        key, _, value = part.partition("=")
        if key.strip():
            out[key.strip()] = value.strip()
    return out


def parse_trunks(raw: str | None) -> tuple[int, ...]:
    """``"20;30;100-102"`` -> (20, 30, 100, 101, 102); junk and out-of-range ids skipped."""
    vids: set[int] = set()
    for part in re.split(r"[;, ]+", raw or ""):
        low, _, high = part.partition("-")
        first, last = as_int(low), as_int(high) if high else as_int(low)
        if first is None or last is None or last - first > 4094:
            continue
        vids |= {v for v in range(first, last + 1) if 1 <= v <= 4094}
    return tuple(sorted(vids))


def normal_mac(raw: str | None) -> str | None:
    return raw.upper() if raw and _MAC.match(raw) else None


def parse_nics(kind: str, config: Mapping[str, Any]) -> tuple[GuestNic, ...]:
    """Every ``netN`` of a guest config, ordered by N."""
    nics = []
    for key, value in config.items():
        match = _NET_KEY.match(key)
        if match and isinstance(value, str):
            props = split_props(value)
            index = int(match.group(1))
            nics.append(_lxc_nic(index, props) if kind == "lxc" else _qemu_nic(index, props))
    return tuple(sorted(nics, key=lambda nic: nic.index))


def _common(props: Mapping[str, str]) -> dict[str, Any]:
    tag = as_int(props.get("tag"))
    return {
        "bridge": props.get("bridge") or None,
        "tag": tag if tag and 1 <= tag <= 4094 else None,
        "trunks": parse_trunks(props.get("trunks")),
        "firewall": bool(as_bool(props.get("firewall"))),
        "link_down": bool(as_bool(props.get("link_down"))),
        "mtu": as_int(props.get("mtu")) or None,
    }


def _qemu_nic(index: int, props: Mapping[str, str]) -> GuestNic:
    model = mac = None
    for key, value in props.items():  # the model is the key whose value is the MAC
        if normal_mac(value):
            model, mac = key, normal_mac(value)
            break
    mac = mac or normal_mac(props.get("macaddr"))
    return GuestNic(index=index, mac=mac, model=model, **_common(props))


def _lxc_nic(index: int, props: Mapping[str, str]) -> GuestNic:
    static = tuple(props[k] for k in ("ip", "ip6") if props.get(k) and props[k] not in DYNAMIC)
    return GuestNic(
        index=index, mac=normal_mac(props.get("hwaddr")), guest_name=props.get("name") or None,
        static=static, ipv4_mode=_mode(props.get("ip")), ipv6_mode=_mode(props.get("ip6")),
        **_common(props),
    )  # fmt: skip


def _mode(value: str | None) -> str | None:
    if not value:
        return None
    return value if value in DYNAMIC else "static"

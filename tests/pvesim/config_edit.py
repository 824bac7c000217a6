"""`PUT/POST .../config`: digest check, locks, `delete=`, and the keys a sync touches."""

from __future__ import annotations

import re
from typing import Any

from .auth import Identity
from .envelope import PveError, param_error
from .estate import Guest, Nic
from .params import boolean
from .render_config import guest_config
from .runtime import ClusterRuntime

NET_KEY = re.compile(r"^net(\d+)$")
PRIV_FOR_KEY = {"memory": "VM.Config.Memory", "cores": "VM.Config.CPU",
                "sockets": "VM.Config.CPU"}
IGNORED = {"digest", "delete", "skiplock", "revert", "node", "vmid",
           "kind"}  # "kind": the route binding (qemu|lxc), not a config key


def _priv(key: str) -> str:
    if NET_KEY.match(key):
        return "VM.Config.Network"
    return PRIV_FOR_KEY.get(key, "VM.Config.Options")


def check_config_change(rt: ClusterRuntime, ident: Identity, guest: Guest,
                        params: dict[str, Any]) -> None:
    """Synchronous part: privileges, digest (optimistic locking) and the config lock."""
    keys = [k for k in params if k not in IGNORED]
    deleted = [k for k in str(params.get("delete", "")).replace(";", ",").split(",") if k]
    for key in keys + deleted:
        priv = _priv(key)
        if not ident.has(priv):
            raise PveError(403, f"Permission check failed (/vms/{guest.vmid}, {priv})")
    digest = params.get("digest")
    if digest and digest != guest_config(rt.cluster, guest)["digest"]:
        raise PveError(500, "detected modified configuration - file changed by other user? "
                            "Try again.")
    if guest.lock and not boolean(params, "skiplock"):
        raise PveError(500, f"VM is locked ({guest.lock})")


def apply_config_change(rt: ClusterRuntime, guest: Guest, params: dict[str, Any]) -> None:
    deleted = [k for k in str(params.get("delete", "")).replace(";", ",").split(",") if k]
    for key in deleted:
        if key == "tags":
            guest.tags = []
        elif key == "description":
            guest.description = None
        elif key == "onboot":
            guest.onboot = False
        elif NET_KEY.match(key):
            index = int(key[3:])
            guest.nics = [n for n in guest.nics if n.index != index]
        else:
            guest.extra_config.pop(key, None)
    for key, value in params.items():
        if key in IGNORED:
            continue
        _set_key(rt, guest, key, value)
    rt.cluster.touch()


def _set_key(rt: ClusterRuntime, guest: Guest, key: str, value: Any) -> None:
    text = str(value)
    if key in ("name", "hostname"):
        guest.name = text
    elif key == "tags":
        guest.tags = sorted({t for t in re.split(r"[;, ]+", text) if t}, key=str.lower)
    elif key == "description":
        guest.description = text
    elif key == "onboot":
        guest.onboot = boolean({key: text}, key)
    elif key == "memory":
        guest.memory_mib = int(text.removeprefix("current="))
    elif key in ("cores", "sockets"):
        if not text.isdigit():
            raise param_error({key: f"type check ('integer') failed - got '{text}'"})
        setattr(guest, key, int(text))
    elif NET_KEY.match(key):
        _set_net(rt, guest, int(key[3:]), text)
    else:
        guest.extra_config[key] = text


def _set_net(rt: ClusterRuntime, guest: Guest, index: int, text: str) -> None:
    parts = dict(p.split("=", 1) for p in text.split(",") if "=" in p)
    try:
        nic = guest.nic_by_index(index)
    except KeyError:
        nic = Nic(index=index, mac=rt.cluster.allocator.next_mac())
        guest.nics.append(nic)
        guest.nics.sort(key=lambda n: n.index)
    for model in ("virtio", "e1000", "e1000e", "vmxnet3", "rtl8139"):
        if model in parts:
            nic.model = model
            if parts[model]:
                nic.mac = parts[model].upper()
    if "hwaddr" in parts:
        nic.mac = parts["hwaddr"].upper()
    nic.bridge = parts.get("bridge", nic.bridge)
    nic.tag = int(parts["tag"]) if "tag" in parts else None
    nic.trunks = [int(t) for t in parts["trunks"].split(";")] if "trunks" in parts else []
    nic.firewall = parts.get("firewall") == "1"
    nic.link_down = parts.get("link_down") == "1"
    if "ip" in parts:
        nic.ipv4, nic.gw4 = parts["ip"], parts.get("gw")
    if "ip6" in parts:
        nic.ipv6, nic.gw6 = parts["ip6"], parts.get("gw6")

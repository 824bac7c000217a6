"""Guest addresses -> NetBox IP addresses on VM interfaces, and the VMs' primary IPs.

Identity: an address is its host in the global VRF (NetBox's ``address`` filter matches
the host whatever the mask). One record per address, owned by one interface:

- on the interface it belongs to: patched if mask or status changed;
- on another interface and tagged ``proxbox`` (so a VM we manage had it): moved --
  after clearing the old VM's primary IP pointing at it, which NetBox requires;
- held by anything we do not manage (no ``proxbox`` tag): a *conflict*: reported
  (``skipped`` with a warning) and left alone, never taken (proxbox-api #566);
- ours, on a guest read in full, no longer reported: deleted.

Primary IPs (only for guests whose address set is complete): see
:func:`shared.sync.addresses.primary`; no address of a family clears that primary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.netbox.client import JsonObject, NetBoxClient
from shared.sync.addresses import GuestAddresses, NicAddress, primary
from shared.sync.children import Child, ChildKind, Written, reconcile
from shared.sync.diff import comparable, tag_ids
from shared.sync.ensure import LOOKUP_CHUNK
from shared.sync.outcome import Outcome

PATH = "ipam/ip-addresses/"
VM_PATH = "virtualization/virtual-machines/"
FIELDS = "id,address,status,vrf,assigned_object_type,assigned_object_id,assigned_object,tags"
VMINTERFACE = "virtualization.vminterface"


@dataclass(frozen=True)
class GuestIps:
    vm_id: int
    label: str
    vmid: int
    found: GuestAddresses


@dataclass(frozen=True)
class Wanted:
    iface: int
    address: NicAddress
    guest: GuestIps


def host_of(obj: JsonObject) -> str:
    return str(obj["address"]).split("/", 1)[0]


def _read(client: NetBoxClient, key: str, values: Sequence[object]) -> list[JsonObject]:
    found: list[JsonObject] = []
    for start in range(0, len(values), LOOKUP_CHUNK):
        params = {key: list(values[start : start + LOOKUP_CHUNK]), "fields": FIELDS}
        for page in client.iter_all(PATH, params):
            found += [ip for ip in page if ip.get("vrf") is None]  # the global VRF only
    return found


def sync_ips(
    client: NetBoxClient, managed_tag: int, chunk: int, guests: Sequence[GuestIps],
    iface_ids: Mapping[tuple[int, str], int],
) -> Written:  # fmt: skip
    wanted, result = _wanted(guests, iface_ids), Written()
    complete_vms = {g.vm_id for g in guests if g.found.complete}
    complete = {iface for (vm, _), iface in iface_ids.items() if vm in complete_vms}
    on_ours = _read(client, "vminterface_id", sorted(set(iface_ids.values())))
    elsewhere = _read(client, "address", sorted({h for h in wanted} - {host_of(ip) for ip in on_ours}))
    current = _index(on_ours + elsewhere, wanted)
    for host, want in list(wanted.items()):
        have = current.get(host)
        if have is not None and managed_tag not in tag_ids(have) and have.get("assigned_object_id") != want.iface:
            result.outcomes.append(_conflict(want, have))
            del wanted[host], current[host]
    _release_primaries(client, current, wanted)
    desired = [Child(host, {"address": w.address.address, "status": w.address.status,
                            "assigned_object_type": VMINTERFACE, "assigned_object_id": w.iface},
                     f"{w.guest.label} {w.address.address}", w.guest.vmid) for host, w in wanted.items()]  # fmt: skip
    written = reconcile(client, ChildKind(PATH, "ip_address", managed_tag, chunk), current, desired,
                        prune=lambda key, ip: ip.get("assigned_object_id") in complete)  # fmt: skip
    result.outcomes += written.outcomes
    result.ids.update(written.ids)
    result.outcomes += _set_primaries(client, guests, wanted, written.ids)
    return result


def _index(found: Sequence[JsonObject], wanted: Mapping[str, Wanted]) -> dict[object, JsonObject]:
    """Current records by host; a second record of one address is keyed apart (pruned if ours),
    the record already on the wanted interface winning."""
    current: dict[object, JsonObject] = {}
    for ip in sorted({int(ip["id"]): ip for ip in found}.values(), key=lambda ip: int(ip["id"])):
        host, want = host_of(ip), wanted.get(host_of(ip))
        prior = current.get(host)
        if prior is None:
            current[host] = ip
        elif want is not None and ip.get("assigned_object_id") == want.iface != prior.get("assigned_object_id"):
            current[("duplicate", prior["id"])], current[host] = prior, ip
        else:
            current[("duplicate", ip["id"])] = ip
    return current


def _wanted(guests: Sequence[GuestIps], iface_ids: Mapping[tuple[int, str], int]) -> dict[str, Wanted]:
    wanted: dict[str, Wanted] = {}
    for guest in guests:
        for address in guest.found.addresses:
            iface = iface_ids.get((guest.vm_id, address.nic))
            if iface is not None and address.host not in wanted:  # first guest of the batch wins
                wanted[address.host] = Wanted(iface, address, guest)
    return wanted


def _conflict(want: Wanted, have: JsonObject) -> Outcome:
    holder = f"{have.get('assigned_object_type') or 'nothing'} {have.get('assigned_object_id') or ''}".strip()
    return Outcome("ip_address", f"{want.guest.label} {want.address.address}", "skipped", int(have["id"]),
                   warning=f"conflict: {have['address']} is held by {holder}, not managed by proxbox-mq; "
                           "left alone", vmid=want.guest.vmid)  # fmt: skip


def _release_primaries(client: NetBoxClient, current: Mapping[object, JsonObject], wanted: Mapping[str, Wanted]) -> None:
    """NetBox refuses to reassign an IP that is its VM's primary: clear that first."""
    moving = {int(ip["id"]): ip for host, ip in current.items()
              if host in wanted and ip.get("assigned_object_id") not in (None, wanted[str(host)].iface)}  # fmt: skip
    vm_ids = {int(((ip.get("assigned_object") or {}).get("virtual_machine") or {}).get("id") or 0) for ip in moving.values()}
    vm_ids.discard(0)
    patches = []
    for page in client.iter_all(VM_PATH, {"id": sorted(vm_ids), "fields": "id,primary_ip4,primary_ip6"}) if vm_ids else []:
        for vm in page:
            clear = {f: None for f in ("primary_ip4", "primary_ip6") if comparable(f, vm.get(f)) in moving}
            if clear:
                patches.append({"id": vm["id"], **clear})
    if patches:
        client.update(VM_PATH, patches)


def _set_primaries(
    client: NetBoxClient, guests: Sequence[GuestIps], wanted: Mapping[str, Wanted], ids: Mapping[object, int]
) -> list[Outcome]:
    complete = [g for g in guests if g.found.complete]
    if not complete:
        return []
    current: dict[int, JsonObject] = {}
    for page in client.iter_all(VM_PATH, {"id": [g.vm_id for g in complete], "fields": "id,primary_ip4,primary_ip6"}):
        current.update({int(vm["id"]): vm for vm in page})
    patches, outcomes = [], []
    for guest in complete:
        mine = [a for a in guest.found.addresses if a.host in wanted and wanted[a.host].guest is guest]
        desired = {f"primary_ip{family}": ids.get(best.host) if (best := primary(mine, family)) else None
                   for family in (4, 6)}  # fmt: skip
        have = current.get(guest.vm_id, {})
        patch = {f: v for f, v in desired.items() if comparable(f, have.get(f)) != v}
        if patch:
            patches.append({"id": guest.vm_id, **patch})
            outcomes.append(Outcome("primary_ip", guest.label, "updated", guest.vm_id, vmid=guest.vmid))
    for start in range(0, len(patches), 200):
        client.update(VM_PATH, patches[start : start + 200])
    return outcomes

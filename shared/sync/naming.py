"""NetBox names for guests: truncated to NetBox's limit and unique within a cluster.

NetBox refuses two VMs with the same name (case-insensitive) in one cluster, but
Proxmox allows it. The predecessor dropped or merged such guests; here every
guest gets a deterministic name:

- the lowest vmid among guests sharing a name keeps the plain name;
- the others become ``name (vmid)``;
- a name still held in NetBox by a VM of this endpoint that is not a current guest
  (a soft-deleted one) counts as taken, so a new guest with that name becomes
  ``name (vmid)`` instead of failing on the uniqueness constraint.

The same inputs always give the same names, so an unchanged estate renames nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from shared.sync.models import GuestRef

#: ``VirtualMachine.name`` max_length in NetBox 4.x.
NETBOX_NAME_MAX = 64


@dataclass(frozen=True)
class Renamed:
    guest: GuestRef
    original: str
    resolved: str
    why: str


def fallback_name(guest: GuestRef) -> str:
    """For a guest whose name Proxmox did not report (``vm-100`` / ``ct-100``)."""
    return f"{'ct' if guest.type == 'lxc' else 'vm'}-{guest.vmid}"


def fit(name: str, suffix: str = "") -> str:
    """``name`` + ``suffix`` cut to NetBox's limit, the suffix always kept whole."""
    room = NETBOX_NAME_MAX - len(suffix)
    return name[:room].rstrip() + suffix


def resolve_names(
    guests: Iterable[GuestRef], taken: Iterable[str] = ()
) -> tuple[list[GuestRef], list[Renamed]]:
    """Guests with ``netbox_name`` set, and the ones whose name had to change."""
    taken_lower = {name.lower() for name in taken}
    by_name: dict[str, list[GuestRef]] = defaultdict(list)
    for guest in guests:
        by_name[fit(guest.name or fallback_name(guest)).lower()].append(guest)
    resolved: list[GuestRef] = []
    renamed: list[Renamed] = []
    for key, group in by_name.items():
        group.sort(key=lambda g: (g.vmid, g.type))
        for position, guest in enumerate(group):
            original = guest.name or fallback_name(guest)
            base = fit(original)
            clash = position > 0 or key in taken_lower
            final = fit(original, f" ({guest.vmid})") if clash else base
            if final != original:
                why = "duplicate name in cluster" if clash else "longer than NetBox allows"
                renamed.append(Renamed(guest, original, final, why))
            resolved.append(guest.model_copy(update={"netbox_name": final}))
    resolved.sort(key=lambda g: (g.vmid, g.type))
    return resolved, renamed

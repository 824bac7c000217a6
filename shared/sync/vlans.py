"""VLANs for guest NICs: one NetBox VLAN group per cluster, a VLAN per vid in it.

Proxmox VLAN tags are local to a cluster's bridges, so the VLANs live in a group
scoped to the NetBox cluster (``Proxmox <cluster> VLANs``), never globally: two
clusters' VLAN 10 are two objects. Batches of one cluster create the same VLANs at
the same moment; a refused POST (NetBox's (group, vid) uniqueness) means another
batch won, so read again.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.errors import NetBoxError
from shared.netbox.client import JsonObject, NetBoxClient
from shared.sync.ensure import ENSURE_ROUNDS, find_by, lost_a_race, slugify
from shared.sync.outcome import Outcome

GROUP_PATH = "ipam/vlan-groups/"
VLAN_PATH = "ipam/vlans/"
CLUSTER_TYPE = "virtualization.cluster"


def ensure_group(client: NetBoxClient, cluster_id: int, cluster_name: str, managed_tag: int) -> int:
    params = {"scope_type": CLUSTER_TYPE, "scope_id": cluster_id, "fields": "id,name,scope_id", "limit": 10}
    body: JsonObject = {"name": f"Proxmox {cluster_name} VLANs"[:100],
                        "slug": slugify(f"proxmox-{cluster_name}-{cluster_id}-vlans"),
                        "scope_type": CLUSTER_TYPE, "scope_id": cluster_id, "tags": [managed_tag]}  # fmt: skip
    for attempt in range(ENSURE_ROUNDS):
        found = [g for g in client.get(GROUP_PATH, params).get("results") or [] if g.get("scope_id") == cluster_id]
        if found:
            return int(min(found, key=lambda g: int(g["id"]))["id"])
        try:
            return int(client.create_one(GROUP_PATH, body)["id"])
        except NetBoxError as exc:
            if not lost_a_race(exc) or attempt + 1 == ENSURE_ROUNDS:
                raise
    raise AssertionError("unreachable")


def ensure_vlans(
    client: NetBoxClient, group_id: int, vids: Iterable[int], managed_tag: int, outcomes: list[Outcome]
) -> dict[int, int]:
    """``{vid: VLAN id}`` in the group, creating the missing VLANs."""
    wanted = sorted(set(vids))
    if not wanted:
        return {}
    extra = {"group_id": group_id, "fields": "id,vid,name"}
    for attempt in range(ENSURE_ROUNDS):
        found = find_by(client, VLAN_PATH, "vid", wanted, extra)
        missing = [vid for vid in wanted if vid not in found]
        if not missing:
            return {vid: int(found[vid]["id"]) for vid in wanted}
        bodies = [{"vid": vid, "name": f"VLAN {vid}", "group": group_id, "status": "active",
                   "tags": [managed_tag]} for vid in missing]  # fmt: skip
        try:
            made = client.create(VLAN_PATH, bodies)
        except NetBoxError as exc:
            if not lost_a_race(exc) or attempt + 1 == ENSURE_ROUNDS:
                raise
            continue
        outcomes += [Outcome("vlan", str(v["name"]), "created", int(v["id"])) for v in made]
        found.update({int(v["vid"]): v for v in made})
        return {vid: int(found[vid]["id"]) for vid in wanted}
    raise AssertionError("unreachable")

"""Per-cluster NetBox objects: site, cluster, one device per node (diffed, bulk written).

Identity: the cluster and the node devices carry ``proxmox_endpoint_id``; a cluster
is found by it first and otherwise adopted by name (e.g. one the predecessor
made), a device by name within the endpoint's devices, else adopted by
(name, site). Nodes and clusters are never deleted (the predecessor's rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.netbox.client import JsonObject, NetBoxClient
from shared.sync.catalog import (
    CF_CLUSTER,
    CF_ENDPOINT,
    TAG_DISCOVERED,
    TAG_MANAGED,
    Catalog,
    owned_by,
)
from shared.sync.diff import patch_for, tag_ids
from shared.sync.ensure import ensure_by, find_by, slugify
from shared.sync.models import ClusterInfo
from shared.sync.outcome import Outcome

CLUSTER_FIELDS = "id,name,type,scope_type,scope_id,status,tags,custom_fields"
DEVICE_FIELDS = "id,name,device_type,role,site,cluster,status,tags,custom_fields"


@dataclass
class Infra:
    site_id: int
    cluster_id: int
    device_ids: dict[str, int]
    outcomes: list[Outcome] = field(default_factory=list)


def ensure_infra(
    client: NetBoxClient, catalog: Catalog, endpoint_id: int, cluster: ClusterInfo,
    site_slug: str | None,
) -> Infra:  # fmt: skip
    outcomes: list[Outcome] = []
    site_id = _ensure_site(client, cluster.name, site_slug, outcomes)
    cluster_id = _ensure_cluster(client, catalog, endpoint_id, cluster, site_id, outcomes)
    devices = _ensure_devices(client, catalog, endpoint_id, cluster, site_id, cluster_id, outcomes)
    return Infra(site_id, cluster_id, devices, outcomes)


def _ensure_site(client: NetBoxClient, cluster: str, slug: str | None, outcomes: list[Outcome]) -> int:
    name = f"Proxmox Default Site - {cluster}"
    wanted = {"name": slug or name[:100], "slug": slug or slugify(f"proxmox-default-site-{cluster}"),
              "status": "active"}  # fmt: skip
    sites, created = ensure_by(client, "dcim/sites/", "slug", [wanted])
    site = sites[wanted["slug"]]
    outcomes.append(Outcome("site", site["name"], "created" if created else "unchanged", site["id"]))
    return int(site["id"])


def _ensure_cluster(
    client: NetBoxClient, catalog: Catalog, endpoint_id: int, cluster: ClusterInfo, site_id: int,
    outcomes: list[Outcome],
) -> int:  # fmt: skip
    params = {f"cf_{CF_ENDPOINT}": endpoint_id, "fields": CLUSTER_FIELDS, "limit": 50}
    answer = client.get("virtualization/clusters/", params).get("results") or []
    current = next((c for c in answer if owned_by(c, endpoint_id)), None)
    if current is None:  # adopt a same-named cluster nobody owns (hand-made, predecessor)
        named = find_by(client, "virtualization/clusters/", "name", [cluster.name], {"fields": CLUSTER_FIELDS})
        unowned = named.get(cluster.name)
        current = unowned if unowned and (unowned.get("custom_fields") or {}).get(CF_ENDPOINT) is None else None
    managed = catalog.tag_ids[TAG_MANAGED]
    desired: JsonObject = {
        "name": cluster.name,
        "type": catalog.cluster_type_ids["standalone" if cluster.standalone else "cluster"],
        "scope_type": "dcim.site",
        "scope_id": site_id,
        "status": "active",
        "custom_fields": {CF_ENDPOINT: endpoint_id},
    }
    if current is None:
        desired["tags"] = [managed, catalog.tag_ids[TAG_DISCOVERED["cluster"]]]
        made = client.create_one("virtualization/clusters/", desired)
        outcomes.append(Outcome("cluster", cluster.name, "created", made["id"]))
        return int(made["id"])
    desired["tags"] = sorted(tag_ids(current) | {managed})
    patch = patch_for(current, desired)
    if patch:
        client.update("virtualization/clusters/", [{"id": current["id"], **patch}])
    outcomes.append(Outcome("cluster", cluster.name, "updated" if patch else "unchanged", current["id"]))
    return int(current["id"])


def _ensure_devices(
    client: NetBoxClient, catalog: Catalog, endpoint_id: int, cluster: ClusterInfo, site_id: int,
    cluster_id: int, outcomes: list[Outcome],
) -> dict[str, int]:  # fmt: skip
    ours: dict[str, JsonObject] = {}
    for page in client.iter_all("dcim/devices/", {f"cf_{CF_ENDPOINT}": endpoint_id, "fields": DEVICE_FIELDS}):
        ours.update({device["name"]: device for device in page if owned_by(device, endpoint_id)})
    missing = [node.name for node in cluster.nodes if node.name not in ours]
    if missing:  # adopt same-named devices of the site (made by hand or by the predecessor)
        ours.update(find_by(client, "dcim/devices/", "name", missing,
                            {"site_id": site_id, "fields": DEVICE_FIELDS}))  # fmt: skip
    managed = catalog.tag_ids[TAG_MANAGED]
    creates, patches, ids = [], [], {}
    for node in cluster.nodes:
        desired: JsonObject = {
            "name": node.name, "device_type": catalog.device_type_id, "role": catalog.node_role_id,
            "site": site_id, "cluster": cluster_id, "status": "active" if node.online else "offline",
            "custom_fields": {CF_ENDPOINT: endpoint_id, CF_CLUSTER: cluster.name},
        }  # fmt: skip
        current = ours.get(node.name)
        if current is None:
            creates.append({**desired, "tags": [managed, catalog.tag_ids[TAG_DISCOVERED["node"]]]})
            continue
        ids[node.name] = int(current["id"])
        patch = patch_for(current, {**desired, "tags": sorted(tag_ids(current) | {managed})})
        if patch:
            patches.append({"id": current["id"], **patch})
        outcomes.append(Outcome("device", node.name, "updated" if patch else "unchanged", current["id"]))
    if patches:
        client.update("dcim/devices/", patches)
    for made in client.create("dcim/devices/", creates) if creates else []:
        ids[made["name"]] = int(made["id"])
        outcomes.append(Outcome("device", made["name"], "created", made["id"]))
    return ids

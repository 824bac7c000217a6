"""NetBox's own floor for an estate's objects: list-POST them straight to the API.

Used by ``bench.first_sync`` to compare a first sync with the time NetBox itself
needs to create the same numbers of VMs, VM interfaces, MAC addresses, IP addresses
and virtual disks (chunks of 200, one client, no reads, no diffing), then removes them.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

CHUNK = 200
#: Outcome kinds of a sync run -> what the floor creates for them, in dependency order.
KINDS = ("virtual_machine", "vm_interface", "mac_address", "ip_address", "virtual_disk")


def _post_all(client: httpx.Client, path: str, bodies: list[dict[str, Any]]) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(bodies), CHUNK):
        answer = client.post(path, json=bodies[start : start + CHUNK])
        answer.raise_for_status()
        ids += [obj["id"] for obj in answer.json()]
    return ids


def _delete_all(client: httpx.Client, path: str, ids: list[int]) -> None:
    for start in range(0, len(ids), 500):
        client.request(
            "DELETE", path, json=[{"id": i} for i in ids[start : start + 500]]
        ).raise_for_status()


def created(counts: dict[str, Any], kind: str) -> int:
    return int((counts.get(kind) or {}).get("created", 0))


def objects_floor(client: httpx.Client, counts: dict[str, Any]) -> dict[str, float]:
    """Seconds NetBox takes per kind (and in all) to create the objects ``counts`` says a run created."""
    ctype = client.post(
        "/virtualization/cluster-types/", json={"name": "floor2", "slug": "floor2"}
    ).json()
    cluster = client.post(
        "/virtualization/clusters/", json={"name": "floor2", "type": ctype["id"]}
    ).json()
    n_vm = max(1, created(counts, "virtual_machine"))
    seconds: dict[str, float] = {}

    def timed(kind: str, path: str, bodies: list[dict[str, Any]]) -> list[int]:
        mark = time.perf_counter()
        ids = _post_all(client, path, bodies)
        seconds[kind] = time.perf_counter() - mark
        return ids

    def on_interfaces(kind: str) -> range:
        return range(created(counts, kind) if interfaces else 0)

    started = time.perf_counter()
    vms = timed("virtual_machine", "/virtualization/virtual-machines/", [
        {"name": f"floor2-{i:05d}", "cluster": cluster["id"], "status": "active", "vcpus": 2, "memory": 2048}
        for i in range(n_vm)])  # fmt: skip
    interfaces = timed("vm_interface", "/virtualization/interfaces/", [
        {"virtual_machine": vms[i % n_vm], "name": f"net{i // n_vm}"}
        for i in range(created(counts, "vm_interface"))])  # fmt: skip
    macs = timed("mac_address", "/dcim/mac-addresses/", [
        {"mac_address": f"02:00:{i >> 24 & 255:02x}:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
         "assigned_object_type": "virtualization.vminterface", "assigned_object_id": interfaces[i % len(interfaces)]}
        for i in on_interfaces("mac_address")])  # fmt: skip
    ips = timed("ip_address", "/ipam/ip-addresses/", [
        {"address": f"100.{64 + (i >> 16 & 63)}.{i >> 8 & 255}.{i & 255}/32",
         "assigned_object_type": "virtualization.vminterface", "assigned_object_id": interfaces[i % len(interfaces)]}
        for i in on_interfaces("ip_address")])  # fmt: skip
    timed("virtual_disk", "/virtualization/virtual-disks/", [
        {"virtual_machine": vms[i % n_vm], "name": f"disk{i // n_vm}", "size": 10240}
        for i in range(created(counts, "virtual_disk"))])  # fmt: skip
    seconds["total"] = time.perf_counter() - started
    _delete_all(client, "/ipam/ip-addresses/", ips)
    _delete_all(client, "/dcim/mac-addresses/", macs)
    _delete_all(
        client, "/virtualization/virtual-machines/", vms
    )  # interfaces and disks go with them
    client.delete(f"/virtualization/clusters/{cluster['id']}/")
    client.delete(f"/virtualization/cluster-types/{ctype['id']}/")
    return {kind: round(value, 2) for kind, value in seconds.items()}

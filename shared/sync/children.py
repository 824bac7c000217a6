"""Diff-then-bulk-write for objects that hang off a parent (VM interfaces, MACs, IPs, disks).

Each kind is keyed by its parent plus a name (VM interface: VM + name; disk: VM + name;
MAC: interface + value; IP: address in the global VRF). The caller reads current state
for a batch, builds the desired objects, and this module writes only the differences:
list POST for the new, list PATCH with changed fields only, list DELETE for what is gone
(only objects carrying the ``proxbox`` tag, and only where the caller says the parent
was read in full). A chunk NetBox refuses (400) is retried object by object, so one bad
object fails alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.errors import NetBoxError
from shared.netbox.client import JsonObject, NetBoxClient, TransientNetBoxError
from shared.sync.diff import patch_for, tag_ids
from shared.sync.outcome import Outcome

#: A child identity: (parent id, name), (interface id, MAC), an address, ...
Key = Any


@dataclass(frozen=True)
class Child:
    key: Key
    body: JsonObject
    label: str
    vmid: int | None = None


@dataclass
class Written:
    outcomes: list[Outcome] = field(default_factory=list)
    ids: dict[Key, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ChildKind:
    path: str
    kind: str  # outcome kind: "vm_interface", "mac_address", "ip_address", "virtual_disk", ...
    managed_tag: int
    chunk: int = 200
    #: Brings a read object to the write form where :func:`patch_for` cannot (lists of ids).
    normalize: Callable[[JsonObject], JsonObject] = lambda obj: obj


def reconcile(
    client: NetBoxClient, kind: ChildKind, current: Mapping[Key, JsonObject], desired: Sequence[Child],
    prune: Callable[[Key, JsonObject], bool],
) -> Written:  # fmt: skip
    """Create, patch and delete so that NetBox holds ``desired``; ``prune`` says which
    current objects without a desired twin may go (parent read in full)."""
    result = Written()
    creates: list[Child] = []
    patches: list[Child] = []
    for child in desired:
        have = current.get(child.key)
        if have is None:
            creates.append(Child(child.key, {**child.body, "tags": [kind.managed_tag]}, child.label, child.vmid))
            continue
        result.ids[child.key] = int(have["id"])
        body = {**child.body, "tags": sorted(tag_ids(have) | {kind.managed_tag})}
        patch = patch_for(kind.normalize(have), body)
        if patch:
            patches.append(Child(child.key, {"id": have["id"], **patch}, child.label, child.vmid))
        else:
            result.outcomes.append(Outcome(kind.kind, child.label, "unchanged", int(have["id"]), vmid=child.vmid))
    wanted = {child.key for child in desired}
    gone = [(key, obj) for key, obj in current.items()
            if key not in wanted and kind.managed_tag in tag_ids(obj) and prune(key, obj)]  # fmt: skip
    _delete(client, kind, gone, result)
    for start in range(0, len(creates), kind.chunk):
        _write(client, kind, "created", creates[start : start + kind.chunk], result)
    for start in range(0, len(patches), kind.chunk):
        _write(client, kind, "updated", patches[start : start + kind.chunk], result)
    return result


def _write(client: NetBoxClient, kind: ChildKind, action: str, items: Sequence[Child], result: Written) -> None:
    try:
        answers = _send(client, kind.path, action, [c.body for c in items])
    except NetBoxError as exc:
        if exc.status != 400 or len(items) == 1:
            if exc.status != 400:
                raise  # NetBox down or overloaded: the message is retried
            if action == "created" and "already exists" in str(exc).lower():
                # Another writer (a redelivered batch, a targeted sync) created it after our
                # read: retry the step, whose fresh read finds the object and patches it.
                raise TransientNetBoxError(f"{kind.kind} {items[0].label} was created meanwhile",
                                           status=409) from exc  # fmt: skip
            result.outcomes.append(Outcome(kind.kind, items[0].label, "failed", items[0].body.get("id"),
                                           error=str(exc)[:500], vmid=items[0].vmid))  # fmt: skip
            return
        for item in items:  # one bad object fails alone
            _write(client, kind, action, [item], result)
        return
    for item, answer in zip(items, answers, strict=False):
        result.ids[item.key] = int(answer["id"])
        result.outcomes.append(Outcome(kind.kind, item.label, action, int(answer["id"]), vmid=item.vmid))  # type: ignore[arg-type]


def _send(client: NetBoxClient, path: str, action: str, bodies: list[JsonObject]) -> list[JsonObject]:
    return client.create(path, bodies) if action == "created" else client.update(path, bodies)


def _delete(client: NetBoxClient, kind: ChildKind, gone: Sequence[tuple[Key, JsonObject]], result: Written) -> None:
    for start in range(0, len(gone), kind.chunk):
        chunk = gone[start : start + kind.chunk]
        client.delete(kind.path, [int(obj["id"]) for _, obj in chunk])
        for _, obj in chunk:
            label = str(obj.get("display") or obj.get("name") or obj.get("address") or obj["id"])
            result.outcomes.append(Outcome(kind.kind, label, "deleted", int(obj["id"])))


def nested_ids(value: object) -> list[int]:
    """``[{"id": 3, ...}, 5]`` -> ``[3, 5]`` sorted (NetBox reads lists of nested objects)."""
    items = value if isinstance(value, list) else []
    return sorted(int(v["id"]) if isinstance(v, dict) else int(v) for v in items)

"""One journal entry per synced cluster per run, with that cluster's counts.

Written only when the run changed or failed something on the cluster (unless
``sync_journal_unchanged``): a run over an unchanged estate writes nothing at all,
and a journal entry is a write (plus a changelog row).
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.netbox.client import NetBoxClient

CHANGING = ("created", "updated", "deleted", "soft_deleted", "failed")


def changed_anything(counts: Mapping[str, int]) -> bool:
    return any(n for key, n in counts.items() if key.rpartition(":")[2] in CHANGING)


def render(run_id: str, cluster: str, counts: Mapping[str, int]) -> str:
    lines = [f"proxbox-mq sync run `{run_id}` on Proxmox cluster **{cluster}**", ""]
    lines += ["| object | action | count |", "| --- | --- | --- |"]
    for key in sorted(counts):
        kind, _, action = key.partition(":")
        lines.append(f"| {kind} | {action} | {counts[key]} |")
    return "\n".join(lines)


def write_entry(client: NetBoxClient, cluster_id: int, run_id: str, cluster: str,
                counts: Mapping[str, int]) -> int:  # fmt: skip
    failed = any(n for key, n in counts.items() if key.endswith(":failed"))
    entry = client.create_one("extras/journal-entries/", {
        "assigned_object_type": "virtualization.cluster", "assigned_object_id": cluster_id,
        "kind": "warning" if failed else "info", "comments": render(run_id, cluster, counts),
    })  # fmt: skip
    return int(entry["id"])

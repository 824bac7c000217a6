"""Datacenter-level configuration: backup jobs, replication jobs, HA groups and rules."""

from __future__ import annotations

from .estate import Cluster

NEXT_RUN = 1746144000


def populate_cluster_config(cluster: Cluster) -> None:
    guests = sorted(cluster.guests.values(), key=lambda g: g.vmid)
    templates = ",".join(str(g.vmid) for g in guests if g.template)
    backup_store = "pbs01" if "pbs01" in cluster.storages else "local"
    nightly: dict[str, object] = {
        "id": "backup-9a8f2c3d-1e4b", "type": "vzdump", "enabled": 1,
        "schedule": "*-*-* 02:00", "next-run": NEXT_RUN, "storage": backup_store,
        "mode": "snapshot", "all": 1, "compress": "zstd",
        "notes-template": "{{guestname}} nightly", "notification-mode": "notification-system",
        "prune-backups": {"keep-daily": "7", "keep-weekly": "4"},
        "comment": "nightly all guests",
    }
    if templates:
        nightly["exclude"] = templates
    cluster.backup_jobs = [nightly]
    stopped = [g for g in guests if not g.running and not g.template]
    if stopped:
        cluster.backup_jobs.append({
            "id": "backup-17c0e55a-04d2", "type": "vzdump", "enabled": 0,
            "schedule": "sun 23:00", "next-run": NEXT_RUN + 230400, "storage": "local",
            "mode": "stop", "vmid": str(stopped[0].vmid), "compress": "zstd", "repeat-missed": 1,
        })

    nodes = cluster.node_names()
    cluster.replication_jobs = []
    if len(nodes) > 1:
        for g in [g for g in guests if g.running and not g.ha][:2]:
            target = next(n for n in nodes if n != g.node)
            cluster.replication_jobs.append({
                "id": f"{g.vmid}-0", "type": "local", "guest": g.vmid, "jobnum": 0,
                "target": target, "source": g.node, "schedule": "*/5", "rate": 100,
                "comment": f"{g.name} -> {target}",
            })

    cluster.ha_groups = {}
    for node in nodes:
        others = ",".join(n for n in nodes if n != node)
        members = f"{node}:2" + (f",{others}" if others else "")
        cluster.ha_groups[f"prefer-{node}"] = {
            "nodes": members, "restricted": 0, "nofailback": 0,
        }
    rebuild_ha_rules(cluster)


def rebuild_ha_rules(cluster: Cluster) -> None:
    """PVE 9 migrated every HA group into a node-affinity rule `ha-group-<group>`."""
    rules: list[dict[str, object]] = []
    order = 1
    for group, cfg in cluster.ha_groups.items():
        members = sorted(
            (g for g in cluster.guests.values() if g.ha and g.ha.group == group),
            key=lambda g: g.vmid,
        )
        if not members:
            continue
        rules.append({
            "rule": f"ha-group-{group}", "type": "node-affinity",
            "resources": ",".join(g.sid for g in members), "nodes": cfg["nodes"],
            "strict": cfg["restricted"], "comment": f"Generated from HA group '{group}'.",
            "order": order,
        })
        order += 1
    cts = sorted((g for g in cluster.guests.values() if g.ha), key=lambda g: g.vmid)[:2]
    if len(cts) == 2:
        rules.append({
            "rule": "keep-apart", "type": "resource-affinity", "affinity": "negative",
            "resources": ",".join(g.sid for g in cts), "order": order,
        })
    cluster.ha_rules = rules

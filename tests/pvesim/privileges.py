"""Privilege sets for the simulated users and tokens.

PVE checks privileges per ACL path; the simulator grants them on `/` (which
propagates everywhere), which is how inventory and operations accounts are set
up in practice. That is enough to reproduce the two behaviours clients trip over:
403 on `Sys.Audit` endpoints and silently empty lists for a token without
`VM.Audit`.
"""

from __future__ import annotations

AUDITOR = frozenset(
    {
        "Sys.Audit",
        "VM.Audit",
        "Datastore.Audit",
        "SDN.Audit",
        "Pool.Audit",
        "Mapping.Audit",
        "VM.GuestAgent.Audit",  # part of PVEAuditor since 9.0
    }
)

ADMIN = AUDITOR | frozenset(
    {
        "Sys.Modify",
        "Sys.Console",
        "Sys.Syslog",
        "VM.PowerMgmt",
        "VM.Snapshot",
        "VM.Snapshot.Rollback",
        "VM.Migrate",
        "VM.Monitor",
        "VM.Config.Options",
        "VM.Config.Network",
        "VM.Config.Disk",
        "VM.Config.Memory",
        "VM.Config.CPU",
        "VM.GuestAgent.Unrestricted",
        "Datastore.AllocateSpace",
    }
)

NONE: frozenset[str] = frozenset()

ROLE_SETS = {"admin": ADMIN, "auditor": AUDITOR, "none": NONE}


def cap_object(privs: frozenset[str]) -> dict[str, dict[str, int]]:
    """The `cap` member of the ticket answer, grouped as PVE groups it."""
    groups: dict[str, dict[str, int]] = {
        "vms": {},
        "storage": {},
        "nodes": {},
        "dc": {},
        "sdn": {},
        "access": {},
        "mapping": {},
    }
    for priv in sorted(privs):
        if priv.startswith("VM."):
            groups["vms"][priv] = 1
        elif priv.startswith("Datastore."):
            groups["storage"][priv] = 1
        elif priv.startswith("Sys."):
            groups["nodes"][priv] = 1
            groups["dc"][priv] = 1
        elif priv.startswith("SDN."):
            groups["sdn"][priv] = 1
            groups["dc"][priv] = 1
        elif priv.startswith("Mapping."):
            groups["mapping"][priv] = 1
    return groups

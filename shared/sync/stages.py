"""Which parts of a sync a run does: the stage names users send, and what each selects.

The netbox-proxbox plugin names stages by its ``sync_types`` (``devices``,
``virtual-machines``, ``vm-interfaces``, ...); our own names are shorter
(``nodes``, ``guests``, ``details``). Both are accepted. A run's selection is
resolved once into :class:`Selection`, which the engine consults:

- ``nodes``: the cluster and one device per node (always done: every other
  stage hangs its objects on them);
- ``node-network``: the nodes' interfaces, bonds, bridges, VLANs and addresses;
- ``guests``: one VM per guest, and retiring the VMs whose guest is gone;
- ``details``: each guest's interfaces, MACs, VLANs, addresses and disks (needs
  ``guests``, which it implies), in three parts the plugin asks for one at a time:
  ``disks`` (``vm-disks``), ``interfaces`` with their MACs and VLANs
  (``vm-interfaces``), and ``ips`` (``ip-addresses``, with the interfaces they sit on).
  Only a run with ``ips`` asks the guest agents for addresses.

Stages the plugin knows that proxbox-mq does not write yet (backups, snapshots,
storage, ...) are accepted, reported, and select nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.errors import ValidationFailed

NODES, NODE_NETWORK, GUESTS = "nodes", "node-network", "guests"
DISKS, INTERFACES, IPS = "disks", "interfaces", "ips"
DETAILS = frozenset({DISKS, INTERFACES, IPS})
#: Our stage names (and the groups ``details`` and ``all``) -> the stages each selects.
OUR_STAGES: dict[str, frozenset[str]] = {
    "all": frozenset({NODES, NODE_NETWORK, GUESTS}) | DETAILS,
    NODES: frozenset({NODES}),
    NODE_NETWORK: frozenset({NODES, NODE_NETWORK}),
    GUESTS: frozenset({NODES, GUESTS}),
    "details": frozenset({NODES, GUESTS}) | DETAILS,
    DISKS: frozenset({NODES, GUESTS, DISKS}),
    INTERFACES: frozenset({NODES, GUESTS, INTERFACES}),
    IPS: frozenset({NODES, GUESTS, INTERFACES, IPS}),
}
#: The plugin's ``sync_types`` that name one of ours.
PLUGIN_ALIASES = {"devices": NODES, "network-interfaces": NODE_NETWORK, "virtual-machines": GUESTS,
                  "vm-disks": DISKS, "vm-interfaces": INTERFACES, "ip-addresses": IPS}  # fmt: skip
#: Every name a user may send, and the stages of ours it selects.
STAGE_NAMES: dict[str, frozenset[str]] = {
    **OUR_STAGES, **{alias: OUR_STAGES[ours] for alias, ours in PLUGIN_ALIASES.items()}
}
#: The plugin's stages that proxbox-mq does not write yet: accepted, they select nothing.
NOT_SYNCED = frozenset({
    "storage", "task-history", "vm-backups", "vm-snapshots", "backups", "snapshots", "sdn",
    "replication", "replications", "backup-routines",
})  # fmt: skip


@dataclass(frozen=True)
class Selection:
    stages: frozenset[str]
    #: Names asked for that select nothing (not synced by proxbox-mq yet).
    skipped: tuple[str, ...] = ()

    @property
    def node_network(self) -> bool:
        return NODE_NETWORK in self.stages

    @property
    def guests(self) -> bool:
        return GUESTS in self.stages

    @property
    def details(self) -> bool:
        """Any part of the details stage."""
        return bool(DETAILS & self.stages)

    @property
    def disks(self) -> bool:
        return DISKS in self.stages

    @property
    def interfaces(self) -> bool:
        return INTERFACES in self.stages

    @property
    def ips(self) -> bool:
        return IPS in self.stages


def check_stage_names(names: Iterable[str]) -> list[str]:
    """``names`` sorted and unique; ValidationFailed naming any that is not a stage."""
    wanted = sorted(set(names))
    unknown = [name for name in wanted if name not in STAGE_NAMES and name not in NOT_SYNCED]
    if unknown:
        known = ", ".join(sorted(STAGE_NAMES))
        raise ValidationFailed(f"stages: unknown {unknown}; known stages are {known} "
                               "(and the plugin's backup, snapshot and storage stages, not synced yet)")  # fmt: skip
    return wanted


def select(names: Iterable[str] | None) -> Selection:
    """What a run does for the stage names it was started with (None: everything)."""
    if names is None:
        return Selection(STAGE_NAMES["all"])
    wanted = check_stage_names(names)
    chosen = frozenset().union(*(STAGE_NAMES.get(name, frozenset()) for name in wanted))
    return Selection(chosen | {NODES}, tuple(name for name in wanted if name in NOT_SYNCED))

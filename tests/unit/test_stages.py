"""Stage names: ours and the plugin's select the same parts of a sync; unknown ones are refused."""

from __future__ import annotations

import pytest

from shared.errors import ValidationFailed
from shared.sync.stages import check_stage_names, select


def test_no_stages_means_everything() -> None:
    everything = select(None)
    assert everything.node_network and everything.guests and everything.details


@pytest.mark.parametrize(
    ("names", "selected"),
    [
        (["devices"], ""),
        (["nodes"], ""),
        (["network-interfaces"], "node_network"),
        (["virtual-machines"], "guests"),
        (["guests"], "guests"),
        (["vm-disks"], "guests disks"),  # details need the VMs they hang on
        (["vm-interfaces"], "guests interfaces"),
        (["ip-addresses", "devices"], "guests interfaces ips"),  # IPs sit on interfaces
        (["details"], "guests disks interfaces ips"),
        (["all"], "node_network guests disks interfaces ips"),
    ],
)
def test_a_stage_selects_its_part_and_what_it_needs(names: list[str], selected: str) -> None:
    chosen = select(names)
    parts = ("node_network", "guests", "disks", "interfaces", "ips")
    assert {part for part in parts if getattr(chosen, part)} == set(selected.split())
    assert chosen.details == bool({"disks", "interfaces", "ips"} & set(selected.split()))
    assert "nodes" in chosen.stages  # every part hangs on the cluster and its nodes


def test_the_plugins_stages_we_do_not_write_yet_are_accepted_and_reported() -> None:
    chosen = select(["vm-backups", "virtual-machines", "vm-snapshots"])
    assert chosen.guests and not chosen.details
    assert chosen.skipped == ("vm-backups", "vm-snapshots")


def test_an_unknown_stage_is_refused_naming_it() -> None:
    with pytest.raises(ValidationFailed, match=r"unknown \['backupz'\]"):
        check_stage_names(["devices", "backupz"])

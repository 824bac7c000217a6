"""What happened to one NetBox object in a sync step (becomes a progress event and a count)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from shared.events import Action


@dataclass(frozen=True)
class Outcome:
    kind: str  # "virtual_machine", "device", "cluster", "site", "journal_entry"
    name: str
    action: Action
    netbox_id: int | None = None
    error: str | None = None
    warning: str | None = None
    vmid: int | None = None


def count(outcomes: Iterable[Outcome]) -> dict[tuple[str, str], int]:
    """``{(kind, action): n}`` as the run ledger's ``settle`` takes it."""
    return dict(Counter((outcome.kind, outcome.action) for outcome in outcomes))

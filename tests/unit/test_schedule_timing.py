"""Schedule timing: intervals aligned to the epoch, cron in UTC, catch-up window."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.errors import ValidationFailed
from shared.schedule import CATCH_UP_S, Timing


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_interval_slots_are_aligned_and_ordered() -> None:
    every_10_min = Timing(interval_s=600)
    now = ts("2026-11-29 10:07:30")
    assert every_10_min.previous_slot(now) == ts("2026-11-29 10:00:00")
    assert every_10_min.next_slot(now) == ts("2026-11-29 10:10:00")
    assert every_10_min.next_slot(ts("2026-11-29 10:10:00")) == ts("2026-11-29 10:20:00")


def test_cron_slots_in_utc() -> None:
    nightly = Timing(cron="30 2 * * *")
    assert nightly.previous_slot(ts("2026-11-29 10:00:00")) == ts("2026-11-29 02:30:00")
    assert nightly.next_slot(ts("2026-11-29 10:00:00")) == ts("2026-11-30 02:30:00")
    # exactly on the slot, it is the current slot, not the one before
    assert nightly.previous_slot(ts("2026-11-29 02:30:20")) == ts("2026-11-29 02:30:00")


def test_a_slot_is_due_only_within_the_catch_up_window() -> None:
    hourly = Timing(cron="0 * * * *")
    assert hourly.due_slot(ts("2026-11-29 10:00:05")) == ts("2026-11-29 10:00:00")
    assert hourly.due_slot(ts("2026-11-29 10:00:00") + CATCH_UP_S + 1) is None


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"interval_s": 600, "cron": "* * * * *"}, {"interval_s": 5}, {"cron": "61 * * * *"}],
)
def test_bad_timings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed):
        Timing(**kwargs)  # type: ignore[arg-type]

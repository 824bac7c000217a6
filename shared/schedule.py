"""Schedules: when a sync fires, and the claim that makes one slot fire once.

Every gateway replica runs the same scheduler loop. For each schedule it
computes the latest slot (fire time) that is due, and claims it in Redis with
``SET <prefix>:sched:<schedule>:<slot> NX``. Exactly one replica wins a slot;
a replica that dies loses nothing, since any survivor still finds the slot due
(within :data:`CATCH_UP_S`) and unclaimed. No leader election, no extra process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis
from croniter import croniter

from shared.errors import ValidationFailed
from shared.keys import Keys

#: A slot that was due less than this long ago still fires (replica restarts, pauses).
CATCH_UP_S = 300
#: How long a claimed slot is remembered (longer than any catch-up window).
CLAIM_TTL_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Timing:
    """Either every ``interval_s`` seconds (aligned to the epoch) or a cron expression (UTC)."""

    interval_s: int | None = None
    cron: str | None = None

    def __post_init__(self) -> None:
        if (self.interval_s is None) == (self.cron is None):
            raise ValidationFailed("a schedule needs exactly one of interval_s or cron")
        if self.interval_s is not None and self.interval_s < 60:
            raise ValidationFailed("interval_s must be at least 60 seconds")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValidationFailed(f"not a valid cron expression: {self.cron!r}")

    def previous_slot(self, now: float) -> int:
        """The latest fire time at or before ``now`` (unix seconds)."""
        if self.interval_s is not None:
            return int(now // self.interval_s * self.interval_s)
        assert self.cron is not None
        moment = datetime.fromtimestamp(now, UTC)
        if croniter.match(self.cron, moment.replace(second=0, microsecond=0)):
            return int(moment.replace(second=0, microsecond=0).timestamp())
        return int(croniter(self.cron, moment).get_prev(datetime).timestamp())

    def next_slot(self, now: float) -> int:
        """The first fire time strictly after ``now``."""
        if self.interval_s is not None:
            return int((now // self.interval_s + 1) * self.interval_s)
        assert self.cron is not None
        return int(
            croniter(self.cron, datetime.fromtimestamp(now, UTC)).get_next(datetime).timestamp()
        )

    def due_slot(self, now: float) -> int | None:
        """The slot to fire now, if the latest one is recent enough to still count."""
        slot = self.previous_slot(now)
        return slot if now - slot <= CATCH_UP_S else None


async def claim_slot(
    client: aioredis.Redis, keys: Keys, schedule: str, slot: int, owner: str
) -> bool:
    """True for exactly one caller per (schedule, slot), across every replica."""
    claimed = await client.set(keys.schedule_slot(schedule, slot), owner, nx=True, ex=CLAIM_TTL_S)
    return bool(claimed)

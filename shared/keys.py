"""Every Redis key name proxbox-mq uses, in one place (as arq's ``constants.py``).

All keys start with the configured prefix (``PROXBOX_REDIS_PREFIX``, default
``proxbox``) so that test runs, and several installations on one Redis, never
collide. Build keys only through :class:`Keys`; never format a key elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "proxbox"

    # --- runs and progress ------------------------------------------------------
    def run_ledger(self, run_id: str) -> str:
        """Hash: expected/done/failed message counters and state of one run."""
        return f"{self.prefix}:run:{run_id}"

    def run_events(self, run_id: str) -> str:
        """Stream: capped replay log of one run's progress events."""
        return f"{self.prefix}:run:{run_id}:events"

    @property
    def progress_channel(self) -> str:
        """Pub/sub channel (and stream) every worker publishes progress to."""
        return f"{self.prefix}:progress"

    # --- concurrency and coalescing ---------------------------------------------
    def limiter(self, name: str) -> str:
        """Concurrency limiter key (dramatiq ConcurrentRateLimiter) for a resource."""
        return f"{self.prefix}:limit:{name}"

    def guest_queued(self, endpoint_id: int, vmid: int) -> str:
        """Flag: a targeted sync of this guest is already queued (event coalescing)."""
        return f"{self.prefix}:guest:{endpoint_id}:{vmid}:queued"

    def schedule_slot(self, job: str, slot: int) -> str:
        """Claim: one fire per schedule slot across gateway replicas."""
        return f"{self.prefix}:sched:{job}:{slot}"

    # --- the NetBox GET cache ------------------------------------------------------
    @property
    def nbcache(self) -> str:
        """Namespace of the NetBox GET cache; ``shared.netbox.cache`` derives its keys here."""
        return f"{self.prefix}:nbcache"

    # --- tests and health -------------------------------------------------------------
    def probe(self, name: str) -> str:
        """Scratch keys written by health checks and round-trip tests."""
        return f"{self.prefix}:probe:{name}"

    def all_keys_pattern(self) -> str:
        """SCAN pattern matching every key of this prefix (test clean-up)."""
        return f"{self.prefix}:*"

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

    def run_settled(self, run_id: str) -> str:
        """Set: message ids already counted in a run's ledger (redelivery counts once)."""
        return f"{self.prefix}:run:{run_id}:settled"

    def run_expectations(self, run_id: str) -> str:
        """Hash: message id -> children it announced (a redelivered parent announces once)."""
        return f"{self.prefix}:run:{run_id}:expects"

    @property
    def runs_active(self) -> str:
        """Sorted set: run ids in flight, scored by start time."""
        return f"{self.prefix}:runs:active"

    def run_claim(self, scope_digest: str) -> str:
        """String: the run id currently covering this scope (a second request joins it)."""
        return f"{self.prefix}:runs:claim:{scope_digest}"

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

    # --- sync engine (issue 4) ------------------------------------------------------
    def sync_seen(self, run_id: str, endpoint_id: int) -> str:
        """Set: ``<type>:<vmid>`` of every guest a run's discovery of an endpoint found."""
        return f"{self.prefix}:run:{run_id}:ep:{endpoint_id}:seen"

    def sync_batches(self, run_id: str, endpoint_id: int) -> str:
        """Hash: ``total`` batches of an endpoint in a run (set once by its discovery)."""
        return f"{self.prefix}:run:{run_id}:ep:{endpoint_id}:batches"

    def sync_batches_done(self, run_id: str, endpoint_id: int) -> str:
        """Set: batch indexes of an endpoint that have finished (the last one triggers reconcile)."""
        return f"{self.prefix}:run:{run_id}:ep:{endpoint_id}:batches_done"

    def sync_counts(self, run_id: str, endpoint_id: int) -> str:
        """Hash: ``<kind>:<action>`` -> n for one endpoint in a run (its journal entry)."""
        return f"{self.prefix}:run:{run_id}:ep:{endpoint_id}:counts"

    def sync_counted(self, run_id: str, endpoint_id: int) -> str:
        """Set: message ids already added to :meth:`sync_counts` (redelivery counts once)."""
        return f"{self.prefix}:run:{run_id}:ep:{endpoint_id}:counted"

    def sync_requests(self, run_id: str) -> str:
        """Hash: ``netbox:GET``/``proxmox:GET``... -> requests a run made (its record's timings)."""
        return f"{self.prefix}:run:{run_id}:requests"

    def sync_errors(self, run_id: str) -> str:
        """List: capped error lines of a run (the SyncRun error summary)."""
        return f"{self.prefix}:run:{run_id}:errors"

    # --- the NetBox GET cache ------------------------------------------------------
    @property
    def nbcache(self) -> str:
        """Namespace of the NetBox GET cache; ``shared.netbox.cache`` derives its keys here."""
        return f"{self.prefix}:nbcache"

    # The Lua scripts in ``shared/netbox/cache_scripts.py`` derive these same names
    # from ``nbcache`` (passed as KEYS[1]); keep both in step (a test checks it).
    def nbcache_entry(self, entry_id: str) -> str:
        """String: one cached response (``<endpoint>:<scope>:<path>[?query]``)."""
        return f"{self.nbcache}:e:{entry_id}"

    @property
    def nbcache_lru(self) -> str:
        """Sorted set: entry id -> last access (server time, microseconds)."""
        return f"{self.nbcache}:lru"

    @property
    def nbcache_expiry(self) -> str:
        """Sorted set: entry id -> expiry (server time, microseconds)."""
        return f"{self.nbcache}:exp"

    @property
    def nbcache_sizes(self) -> str:
        """Hash: entry id -> stored bytes."""
        return f"{self.nbcache}:sz"

    @property
    def nbcache_bytes(self) -> str:
        """String: running total of stored bytes."""
        return f"{self.nbcache}:bytes"

    @property
    def nbcache_stats(self) -> str:
        """Hash: global counters (hits, misses, evictions_*, invalidations, ...)."""
        return f"{self.nbcache}:stats"

    @property
    def nbcache_seq(self) -> str:
        """String: invalidation sequence; a miss hands out its value as the fill lease."""
        return f"{self.nbcache}:seq"

    def nbcache_path_index(self, endpoint_id: str, path: str) -> str:
        """Set: entry ids cached for one API path (every token and query variant)."""
        return f"{self.nbcache}:idx:{endpoint_id}:{path}"

    def nbcache_endpoint_index(self, endpoint_id: str) -> str:
        """Set: entry ids cached for one NetBox endpoint."""
        return f"{self.nbcache}:epidx:{endpoint_id}"

    def nbcache_path_generation(self, endpoint_id: str, path: str) -> str:
        """String: sequence number of the last invalidation of one API path."""
        return f"{self.nbcache}:gen:{endpoint_id}:{path}"

    def nbcache_endpoint_generation(self, endpoint_id: str) -> str:
        """String: sequence number of the last clear of one NetBox endpoint."""
        return f"{self.nbcache}:epgen:{endpoint_id}"

    @property
    def nbcache_all_generation(self) -> str:
        """String: sequence number of the last clear of the whole cache."""
        return f"{self.nbcache}:allgen"

    # --- gateway: auth throttling -------------------------------------------------------
    def auth_failures(self, client: str) -> str:
        """Counter: wrong API keys from one client in the current window (expires with it)."""
        return f"{self.prefix}:auth:fail:{client}"

    def schedule_last(self, schedule: str) -> str:
        """Hash: the last fire of a schedule (slot, outcome started|skipped|failed, run id)."""
        return f"{self.prefix}:sched:{schedule}:last"

    def hook_seen(self, signature: str) -> str:
        """Flag: a signed hook event already accepted (a replay is refused)."""
        return f"{self.prefix}:hook:seen:{signature}"

    def poll_snapshot(self, endpoint_id: int) -> str:
        """Hash: vmid -> fingerprint of each guest at the last poll of an endpoint."""
        return f"{self.prefix}:poll:{endpoint_id}"

    def poll_digests(self, endpoint_id: int) -> str:
        """Hash: vmid -> config digest when the poller last read that guest's config."""
        return f"{self.prefix}:poll-digest:{endpoint_id}"

    def poll_cursor(self, endpoint_id: int) -> str:
        """String: the last vmid whose config digest the poller read (where the next turn starts)."""
        return f"{self.prefix}:poll-cursor:{endpoint_id}"

    # --- tests and health -------------------------------------------------------------
    def probe(self, name: str) -> str:
        """Scratch keys written by health checks and round-trip tests."""
        return f"{self.prefix}:probe:{name}"

    def all_keys_pattern(self) -> str:
        """SCAN pattern matching every key of this prefix (test clean-up)."""
        return f"{self.prefix}:*"

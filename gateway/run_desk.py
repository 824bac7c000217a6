"""Starting, joining and cancelling runs: the SyncRun row, the ledger, and the message to RabbitMQ.

Everything here is blocking (SQLAlchemy, redis-py, pika) and runs on a small
dedicated thread pool: dramatiq's RabbitMQ connections are per thread, so a
fixed pair of threads keeps two AMQP connections instead of one per anyio
worker thread, and the event loop never waits on a publish confirm.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import dramatiq
import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from shared.db.models import ProxmoxEndpoint, RunStatus, SyncRun
from shared.errors import Conflict, NotFound, ServiceUnavailable
from shared.keys import Keys
from shared.messages import PLAN_RUN, SYNC_GUEST, StartRun, SyncGuest, send
from shared.redis_client import reply_text
from shared.runs import LEDGER_TTL_S, RunLedger, child_message_id
from shared.settings import Settings

logger = logging.getLogger(__name__)

#: How long a queued-guest flag lives if no worker ever clears it (ms).
GUEST_FLAG_TTL_MS = 300_000
FINISHED = {RunStatus.SUCCEEDED, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.CANCELLED}

# KEYS[1] claim of a scope, KEYS[2] active runs; ARGV[1] new run id, ARGV[2] ttl s, ARGV[3] now
# Returns {1, new id} when this request starts the run, {0, running id} when it joins one.
# The new run enters the active set in the same step, so a racing request sees it as running.
_CLAIM_LUA = """
local current = redis.call('GET', KEYS[1])
if current and redis.call('ZSCORE', KEYS[2], current) then return {0, current} end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return {1, ARGV[1]}
"""


@dataclass(frozen=True)
class Started:
    run_id: str
    joined: bool


def scope_digest(kind: str, endpoint_ids: list[int] | None, stages: list[str] | None) -> str:
    scope = {"kind": kind, "endpoints": sorted(endpoint_ids) if endpoint_ids else "all",
             "stages": sorted(stages) if stages else "all"}  # fmt: skip
    return hashlib.sha256(json.dumps(scope, sort_keys=True).encode()).hexdigest()[:32]


class RunDesk:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        client: redis.Redis,
        broker: dramatiq.Broker,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._redis = client
        self._broker = broker
        self._keys = Keys(settings.redis_prefix)
        self.ledger = RunLedger(client, self._keys)
        self._claim = client.register_script(_CLAIM_LUA)
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gateway-send")

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    async def call(self, function: Any, *args: Any) -> Any:
        """Run a blocking step on the desk's own threads."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    # --- full update ---------------------------------------------------------------------
    def start_run(self, endpoint_ids: list[int] | None, stages: list[str] | None) -> Started:
        kind: Literal["full", "endpoints"] = "endpoints" if endpoint_ids else "full"
        if endpoint_ids:
            self._require_endpoints(endpoint_ids)
        claim_key = self._keys.run_claim(scope_digest(kind, endpoint_ids, stages))
        fresh = uuid.uuid4().hex
        started, run_id = self._claim(
            keys=[claim_key, self._keys.runs_active], args=[fresh, LEDGER_TTL_S, time.time()]
        )
        if not int(started):
            return Started(reply_text(run_id), joined=True)
        scope = {"endpoint_ids": endpoint_ids, "stages": stages}
        payload = StartRun(run_id=fresh, kind=kind, endpoint_ids=endpoint_ids, stages=stages)
        self._open_and_send(fresh, kind, scope, PLAN_RUN, payload, child_message_id(fresh, "plan"),
                            claim_key)  # fmt: skip
        return Started(fresh, joined=False)

    # --- one guest -----------------------------------------------------------------------
    def sync_guest(
        self, endpoint_id: int, vmid: int, reason: str, delay_ms: int | None = None
    ) -> tuple[str | None, bool]:
        """``(run_id, coalesced)``: coalesced when a sync of this guest is already queued.

        ``delay_ms`` lets a burst of events (pre-start, post-start) fold into one sync
        that runs after the burst and so reads the guest's final state.
        """
        run_id = uuid.uuid4().hex
        flag = self._keys.guest_queued(endpoint_id, vmid)
        # The flag first: a storm of events for a queued guest costs one Redis call each.
        if not self._redis.set(flag, run_id, nx=True, px=GUEST_FLAG_TTL_MS):
            holder = self._redis.get(flag)
            return (reply_text(holder) if holder else None), True
        try:
            self._require_endpoints([endpoint_id])
        except NotFound:
            self._redis.delete(flag)
            raise
        self._redis.zadd(self._keys.runs_active, {run_id: time.time()})
        payload = SyncGuest(endpoint_id=endpoint_id, vmid=vmid, reason=reason, run_id=run_id)
        scope = {"endpoint_ids": [endpoint_id], "vmids": [vmid]}
        message_id = child_message_id(run_id, "guest", endpoint_id, vmid)
        self._open_and_send(
            run_id, "guests", scope, SYNC_GUEST, payload, message_id, flag, delay_ms
        )
        return run_id, False

    # --- shared steps --------------------------------------------------------------------
    def _require_endpoints(self, endpoint_ids: list[int]) -> None:
        with self._sessions() as session:
            found = set(
                session.scalars(
                    select(ProxmoxEndpoint.id).where(ProxmoxEndpoint.id.in_(endpoint_ids))
                )
            )
        missing = sorted(set(endpoint_ids) - found)
        if missing:
            raise NotFound(f"Proxmox endpoint(s) {missing} do not exist")

    def _open_and_send(
        self, run_id: str, kind: str, scope: dict[str, Any], spec: Any, payload: Any,
        message_id: str, claim_key: str, delay_ms: int | None = None,
    ) -> None:  # fmt: skip
        with self._sessions.begin() as session:
            session.add(SyncRun(id=run_id, kind=kind, scope=scope, status=RunStatus.QUEUED))
        try:
            self.ledger.open(run_id, kind=kind, first_message_id=message_id)
            send(
                self._broker,
                spec,
                payload,
                self._settings,
                message_id=message_id,
                delay_ms=delay_ms,
            )
        except Exception as exc:  # pika and redis raise many classes; all mean "not queued"
            logger.error("could not queue run %s: %s", run_id, type(exc).__name__)
            self._abandon(run_id, claim_key, f"not queued: {type(exc).__name__}: {exc}")
            raise ServiceUnavailable(
                f"the run could not be queued ({type(exc).__name__})"
            ) from None

    def _abandon(self, run_id: str, claim_key: str, why: str) -> None:
        try:
            pipe = self._redis.pipeline()
            pipe.zrem(self._keys.runs_active, run_id)
            pipe.delete(claim_key)
            pipe.execute()
        except redis.RedisError:
            logger.warning("could not release the claim of run %s", run_id)
        with self._sessions.begin() as session:
            row = session.get(SyncRun, run_id)
            if row is not None:
                row.status, row.error_summary = RunStatus.FAILED, why
                row.finished_at = datetime.now(UTC)

    # --- reading and cancelling ----------------------------------------------------------
    def get_row(self, run_id: str) -> SyncRun | None:
        with self._sessions() as session:
            return session.get(SyncRun, run_id)

    def list_rows(self, limit: int, offset: int, status: str | None) -> tuple[list[SyncRun], int]:
        query = select(SyncRun)
        counted = select(func.count()).select_from(SyncRun)
        if status:
            query, counted = (
                query.where(SyncRun.status == status),
                counted.where(SyncRun.status == status),
            )
        with self._sessions() as session:
            rows = list(
                session.scalars(
                    query.order_by(SyncRun.created_at.desc()).limit(limit).offset(offset)
                )
            )
            total = session.scalar(counted) or 0
        return rows, total

    def cancel(self, run_id: str) -> str:
        """Flag the run cancelled in the ledger (workers stop taking its messages); its status."""
        row = self.get_row(run_id)
        if row is not None and row.status in FINISHED:
            raise Conflict(f"run {run_id} already finished ({row.status.value})")
        if not self.ledger.cancel(run_id):
            if row is None:
                raise NotFound(f"run {run_id} does not exist")
            raise Conflict(f"run {run_id} is no longer tracked; it cannot be cancelled")
        return row.status.value if row is not None else RunStatus.RUNNING.value

    def active(self) -> list[tuple[str, float]]:
        members: list[tuple[Any, Any]] = list(
            self._redis.zrange(self._keys.runs_active, 0, -1, withscores=True)  # type: ignore[arg-type]
        )
        return [(reply_text(member), float(score)) for member, score in members]

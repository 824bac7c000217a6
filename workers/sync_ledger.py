"""Settling sync messages in the run ledger, and closing the run (exactly one ``Complete``).

The message whose settle makes ``done + failed == expected`` closes the run: it
writes the SyncRun row, publishes the one ``Complete`` event (guarded by
``HSETNX completed``) and drops the run from the active set. A message that
settles again after a crash, or that finds the run closed but not completed
(its closer died half-way), finishes it too; every step of finishing is
idempotent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from shared.db.models import RunStatus, SyncRun
from shared.events import Complete
from shared.runs import LEDGER_TTL_S, LedgerState
from shared.sync.outcome import Outcome, count
from workers.sync_runtime import Runtime

log = logging.getLogger(__name__)
#: Error lines kept per run for the SyncRun error summary.
MAX_ERRORS = 50

# KEYS[1] endpoint counts hash, KEYS[2] counted set; ARGV[1] message id, ARGV[2] ttl, ARGV[3..] field, n pairs
_ENDPOINT_COUNTS_LUA = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
for i = 3, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[2]); redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""


def record_error(rt: Runtime, run_id: str, line: str) -> None:
    key = rt.keys.sync_errors(run_id)
    pipe = rt.redis.pipeline()
    pipe.rpush(key, line[:1000])
    pipe.ltrim(key, -MAX_ERRORS, -1)
    pipe.expire(key, LEDGER_TTL_S)
    pipe.execute()


def add_endpoint_counts(rt: Runtime, run_id: str, endpoint_id: int, message_id: str,
                        outcomes: Sequence[Outcome]) -> None:  # fmt: skip
    args: list[object] = [message_id, LEDGER_TTL_S]
    for (kind, action), n in count(outcomes).items():
        args += [f"{kind}:{action}", n]
    keys = [rt.keys.sync_counts(run_id, endpoint_id), rt.keys.sync_counted(run_id, endpoint_id)]
    rt.redis.eval(_ENDPOINT_COUNTS_LUA, 2, *keys, *args)  # type: ignore[arg-type]


def endpoint_counts(rt: Runtime, run_id: str, endpoint_id: int) -> dict[str, int]:
    raw = rt.redis.hgetall(rt.keys.sync_counts(run_id, endpoint_id))
    return {_text(k): int(v) for k, v in raw.items() if not _text(k).startswith("_")}


def settle(rt: Runtime, run_id: str, message_id: str, *, ok: bool,
           counts: dict[tuple[str, str], int]) -> None:  # fmt: skip
    if rt.ledger.settle(run_id, message_id, ok=ok, counts=counts):
        finish(rt, run_id)
        return
    closed, completed = rt.redis.hmget(rt.keys.run_ledger(run_id), ["closed", "completed"])
    if closed == b"1" and completed is None:
        finish(rt, run_id)  # the closer died before completing: finish in its place


def finish(rt: Runtime, run_id: str) -> None:
    state = rt.ledger.state(run_id)
    if state is None:
        return
    counts = state.counts()
    errors = [_text(line) for line in rt.redis.lrange(rt.keys.sync_errors(run_id), 0, -1)]
    status = run_status(state, counts)
    started = float(state.fields.get("started") or time.time())
    duration = round(time.time() - started, 3)
    raw = rt.redis.hgetall(rt.keys.sync_requests(run_id))
    requests = {_text(k): int(v) for k, v in raw.items()}
    _write_row(rt, run_id, status, counts, {"duration_s": duration, "requests": requests}, errors)
    if rt.redis.hsetnx(rt.keys.run_ledger(run_id), "completed", "1"):
        rt.publisher.publish(Complete(
            run_id=run_id, ok=status == RunStatus.SUCCEEDED, status=status.value,
            message=f"run {status.value} in {duration:.1f} s", result={"counts": counts, "requests": requests,
            "messages": {"expected": state.expected, "done": state.done, "failed": state.failed}},
            errors=[{"message": line} for line in errors],
        ))  # fmt: skip
    rt.ledger.mark_finished(run_id)


def run_status(state: LedgerState, counts: dict[str, dict[str, int]]) -> RunStatus:
    if state.cancelled:
        return RunStatus.CANCELLED
    endpoints = counts.get("endpoint", {})
    if endpoints.get("failed") and not endpoints.get("synced"):
        return RunStatus.FAILED
    items_failed = any(actions.get("failed") for actions in counts.values())
    if state.failed or items_failed:
        return RunStatus.PARTIAL if state.done > 1 else RunStatus.FAILED
    return RunStatus.SUCCEEDED


def _write_row(rt: Runtime, run_id: str, status: RunStatus, counts: dict[str, dict[str, int]],
               timings: dict[str, object], errors: list[str]) -> None:  # fmt: skip
    now = datetime.now(UTC)
    with rt.sessions.begin() as session:
        row = session.get(SyncRun, run_id)
        if row is None:
            return  # a run nobody recorded (targeted sync without a run id)
        row.status, row.counts, row.finished_at = status, counts, now
        row.timings = {**(row.timings or {}), **timings}
        row.error_summary = "\n".join(errors) if errors else None
        row.started_at = row.started_at or now


def mark_running(rt: Runtime, run_id: str) -> None:
    with rt.sessions.begin() as session:
        row = session.get(SyncRun, run_id)
        if row is not None and row.status == RunStatus.QUEUED:
            row.status, row.started_at = RunStatus.RUNNING, datetime.now(UTC)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

"""The run ledger: how a fanned-out run knows it is finished (no Dramatiq group callbacks).

A run is a hash in Redis with ``expected``/``done``/``failed`` counters. A message
that sends children first *announces* them (``expected += n``), then sends them,
then *settles* itself (``done += 1``). The message whose settle makes
``done + failed == expected`` closes the run, exactly once. Both operations are
idempotent per message id, so a message redelivered after a worker crash neither
announces twice nor settles twice; child message ids are deterministic
(:func:`child_message_id`) so a redelivered parent re-sends the same children.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from shared.keys import Keys
from shared.redis_client import reply_text

#: Seconds a run's ledger lives after its last update (finished runs are in the database too).
LEDGER_TTL_S = 7 * 24 * 3600

_NAMESPACE = uuid.UUID("6f3c1a52-9b0e-4d8a-8c1e-2b7f5d9e4a10")


def child_message_id(*parts: object) -> str:
    """A deterministic message id from what identifies the work (run, endpoint, batch...)."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(part) for part in parts)))


# KEYS[1] ledger hash, KEYS[2] expectations hash
# ARGV[1] parent message id, ARGV[2] children announced, ARGV[3] ttl
# Returns 1 when counted, 0 when this parent had announced already.
_ANNOUNCE_LUA = """
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'expected', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3]); redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""

# KEYS[1] ledger hash, KEYS[2] settled set
# ARGV[1] message id, ARGV[2] 'done' or 'failed', ARGV[3] ttl, ARGV[4..] count field, increment pairs
# Returns {counted, closes}: counted=0 for a repeat settle; closes=1 for exactly one caller.
_SETTLE_LUA = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return {0, 0} end
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
for i = 4, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[3]); redis.call('EXPIRE', KEYS[2], ARGV[3])
local expected = tonumber(redis.call('HGET', KEYS[1], 'expected') or '0')
local settled = tonumber(redis.call('HGET', KEYS[1], 'done') or '0')
              + tonumber(redis.call('HGET', KEYS[1], 'failed') or '0')
if settled >= expected and redis.call('HSETNX', KEYS[1], 'closed', '1') == 1 then
  return {1, 1}
end
return {1, 0}
"""


@dataclass
class LedgerState:
    run_id: str
    expected: int = 0
    done: int = 0
    failed: int = 0
    closed: bool = False
    cancelled: bool = False
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def pending(self) -> int:
        return max(0, self.expected - self.done - self.failed)

    def counts(self) -> dict[str, dict[str, int]]:
        """``{"virtual_machine": {"created": 3, ...}, ...}`` from ``count:<kind>:<action>`` fields."""
        result: dict[str, dict[str, int]] = {}
        for name, value in self.fields.items():
            if name.startswith("count:"):
                _, kind, action = name.split(":", 2)
                result.setdefault(kind, {})[action] = int(value)
        return result


class RunLedger:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._announce = client.register_script(_ANNOUNCE_LUA)
        self._settle = client.register_script(_SETTLE_LUA)

    def open(self, run_id: str, *, kind: str, first_message_id: str) -> None:
        """Start a run whose first message (the planner) is ``first_message_id``."""
        pipe = self._client.pipeline()
        pipe.hset(
            self._keys.run_ledger(run_id),
            mapping={"kind": kind, "expected": 1, "done": 0, "failed": 0, "started": time.time()},
        )
        pipe.hset(self._keys.run_expectations(run_id), "open", first_message_id)
        pipe.expire(self._keys.run_ledger(run_id), LEDGER_TTL_S)
        pipe.expire(self._keys.run_expectations(run_id), LEDGER_TTL_S)
        pipe.zadd(self._keys.runs_active, {run_id: time.time()})
        pipe.execute()

    def announce(self, run_id: str, parent_message_id: str, children: int) -> bool:
        """Count ``children`` more messages before sending them; False if already announced."""
        keys = [self._keys.run_ledger(run_id), self._keys.run_expectations(run_id)]
        return bool(self._announce(keys=keys, args=[parent_message_id, children, LEDGER_TTL_S]))

    def settle(
        self,
        run_id: str,
        message_id: str,
        *,
        ok: bool,
        counts: Mapping[tuple[str, str], int] | None = None,
    ) -> bool:
        """Count one message as finished; True for the one caller that closes the run.

        ``counts`` adds ``{(kind, action): n}`` to the run's per-object counters in
        the same atomic step, so a redelivered message never counts its objects twice.
        """
        args: list[Any] = [message_id, "done" if ok else "failed", LEDGER_TTL_S]
        for (kind, action), n in (counts or {}).items():
            if n:
                args += [f"count:{kind}:{action}", n]
        keys = [self._keys.run_ledger(run_id), self._keys.run_settled(run_id)]
        counted, closes = self._settle(keys=keys, args=args)
        return bool(counted) and bool(closes)

    def cancel(self, run_id: str) -> bool:
        """Ask workers to stop taking this run's messages; False if the run is unknown."""
        key = self._keys.run_ledger(run_id)
        if not self._client.exists(key):
            return False
        self._client.hset(key, "cancelled", "1")
        return True

    def is_cancelled(self, run_id: str) -> bool:
        return self._client.hget(self._keys.run_ledger(run_id), "cancelled") == b"1"

    def set_fields(self, run_id: str, **values: str | int | float) -> None:
        self._client.hset(self._keys.run_ledger(run_id), mapping=dict(values))  # type: ignore[arg-type]

    def state(self, run_id: str) -> LedgerState | None:
        raw = self._client.hgetall(self._keys.run_ledger(run_id))
        if not raw:
            return None
        fields = {reply_text(k): reply_text(v) for k, v in raw.items()}
        return LedgerState(
            run_id=run_id,
            expected=int(fields.get("expected", 0)),
            done=int(fields.get("done", 0)),
            failed=int(fields.get("failed", 0)),
            closed=fields.get("closed") == "1",
            cancelled=fields.get("cancelled") == "1",
            fields=fields,
        )

    def mark_finished(self, run_id: str) -> None:
        self._client.zrem(self._keys.runs_active, run_id)

    def active(self) -> list[str]:
        return [reply_text(member) for member in self._client.zrange(self._keys.runs_active, 0, -1)]

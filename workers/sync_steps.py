"""How every sync message runs: cancellation, limiter waits, retries, final settle, events.

A message's fate is decided here, not by Dramatiq's retry budget alone, so that
every message ends in the ledger (a message that fails for good still settles
as failed, otherwise its run would never close):

- no limiter slot -> ``dramatiq.Retry`` with a short jittered delay; ``retry_when``
  lets these through without limit-burning (contention is not failure);
- a transient error (connection, timeout, 429, 5xx, 595/596, Redis, database) ->
  re-raised for Dramatiq's capped back-off, up to ``sync_step_attempts`` deliveries;
- anything else, or the last attempt -> an ``error_detail`` event, an error line
  for the run record, and a failed settle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import dramatiq
import redis
import requests
import sqlalchemy.exc
from dramatiq.middleware import CurrentMessage

from shared.errors import NotFound, ProxmoxError
from shared.events import ErrorDetail, Item, ItemProgress
from shared.netbox.client import TransientNetBoxError
from shared.proxmox.client import TransientProxmoxError
from shared.sync.outcome import Outcome, count
from workers.sync_ledger import add_endpoint_counts, record_error, settle
from workers.sync_runtime import Runtime, SlotBusy, retry_later_ms

log = logging.getLogger(__name__)
TRANSIENT = (TransientProxmoxError, TransientNetBoxError, redis.RedisError,
             sqlalchemy.exc.OperationalError, requests.ConnectionError, requests.Timeout)  # fmt: skip
#: Limiter waits a message may go through before it counts as failed (about an hour).
MAX_SLOT_WAITS = 2000
FAILURES_OPTION = "proxbox_failures"


def retry_when(retries: int, exc: BaseException) -> bool:
    """Dramatiq's retry decision: the step wrapper already decided; only bound runaway loops."""
    return retries < MAX_SLOT_WAITS


@dataclass
class StepResult:
    outcomes: list[Outcome] = field(default_factory=list)
    #: Extra ledger counts (e.g. ``("endpoint", "synced")``) besides the objects' own.
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    ok: bool = True


@dataclass(frozen=True)
class Step:
    rt: Runtime
    run_id: str
    phase: str
    endpoint_id: int | None = None
    endpoint_label: str | None = None
    #: Ledger counts added when the step fails for good (e.g. ``("endpoint", "failed")``).
    failure_counts: tuple[tuple[str, str], ...] = ()

    def emit(self, outcomes: Sequence[Outcome]) -> None:
        for o in outcomes:
            item = Item(name=o.name, item_type=o.kind, netbox_id=o.netbox_id,
                        extra={"vmid": o.vmid} if o.vmid is not None else {})  # fmt: skip
            self.rt.publisher.publish(ItemProgress(
                run_id=self.run_id, phase=self.phase, endpoint=self.endpoint_label, item=item,
                operation=o.action, error=o.error, warning=o.warning,
            ))  # fmt: skip


def run_step(step: Step, body: Callable[[], StepResult], *, settles: bool = True) -> None:
    """Run ``body`` for the current message and settle it exactly once in the run ledger."""
    rt, message = step.rt, CurrentMessage.get_current_message()
    message_id = message.message_id if message is not None else f"local:{step.phase}"
    if rt.ledger.is_cancelled(step.run_id):
        result = StepResult()
    else:
        try:
            result = body()
        except SlotBusy:
            raise dramatiq.Retry(delay=retry_later_ms()) from None
        except Exception as exc:
            if _retry(rt, message, exc):
                raise
            result = _failed(step, exc)
        finally:
            rt.flush_request_counts(step.run_id)
    if step.endpoint_id is not None:
        add_endpoint_counts(rt, step.run_id, step.endpoint_id, message_id, result.outcomes)
    if settles:
        counts = {**count(result.outcomes), **result.counts}
        settle(rt, step.run_id, message_id, ok=result.ok, counts=counts)


def _retry(rt: Runtime, message: dramatiq.Message[object] | None, exc: Exception) -> bool:
    if message is None or not isinstance(exc, TRANSIENT):
        return False
    failures = int(message.options.get(FAILURES_OPTION, 0)) + 1
    if failures >= rt.settings.sync_step_attempts:
        return False
    message.options[FAILURES_OPTION] = failures  # travels with the re-enqueued message
    log.warning("transient failure (attempt %d): %s", failures, exc)
    return True


def _failed(step: Step, exc: Exception) -> StepResult:
    where = f"{step.phase}" + (f" [{step.endpoint_label}]" if step.endpoint_label else "")
    line = f"{where}: {type(exc).__name__}: {exc}"
    log.error("sync step failed: %s", line, exc_info=not isinstance(exc, ProxmoxError | NotFound))
    record_error(step.rt, step.run_id, line)
    step.rt.publisher.publish(ErrorDetail(
        run_id=step.run_id, phase=step.phase, endpoint=step.endpoint_label,
        category=error_category(exc), message=str(exc)[:2000], detail=type(exc).__name__,
    ))  # fmt: skip
    return StepResult(ok=False, counts=dict.fromkeys(step.failure_counts, 1))


def error_category(exc: BaseException) -> str:  # the ErrorDetail vocabulary
    status = getattr(exc, "status", None)
    if isinstance(exc, NotFound) or status == 404:
        return "not_found"
    if status in (401,):
        return "authentication"
    if status == 403:
        return "permission"
    if status == 429:
        return "rate_limit"
    if isinstance(exc, requests.Timeout):
        return "timeout"
    if isinstance(exc, TRANSIENT) or status in (595, 596):
        return "connection"
    if status == 400:
        return "validation"
    return "internal"

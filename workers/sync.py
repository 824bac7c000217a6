"""The sync actors: plan_run -> sync_endpoint -> sync_guests (batches) -> reconcile; sync_guest.

Every message carries ids (and at most one batch of guest summaries); each step
settles in the run ledger, and the message that settles last closes the run
(``workers.sync_ledger``). Child message ids are deterministic, so a redelivered
parent re-sends the same children and the ledger counts them once.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage

from shared.events import Discovery as DiscoveryEvent
from shared.events import DuplicateNameResolved
from shared.events import Step as StepEvent
from shared.messages import (
    PLAN_RUN,
    RECONCILE,
    SYNC_ENDPOINT,
    SYNC_GUEST,
    SYNC_GUESTS,
    Reconcile,
    SyncEndpoint,
    SyncGuestsBatch,
    send,
)
from shared.runs import child_message_id
from shared.sync.endpoints import enabled_proxmox_ids
from shared.sync.naming import Renamed
from shared.sync.stages import select
from workers.sync_ledger import add_endpoint_counts, mark_running
from workers.sync_phases import (
    catalog,
    discover_and_plan,
    reconcile_endpoint,
    sync_batch,
)
from workers.sync_runtime import Runtime, runtime
from workers.sync_steps import Step, StepResult, retry_when, run_step
from workers.sync_targeted import sync_one_guest

settings = runtime().settings


def _options(spec: Any) -> dict[str, Any]:
    return {**spec.actor_options(settings), "retry_when": retry_when,
            "max_backoff": min(settings.actor_max_backoff_ms, 60_000)}  # fmt: skip


def _message_id() -> str:
    message = CurrentMessage.get_current_message()
    return message.message_id if message is not None else "local"


@dramatiq.actor(**_options(PLAN_RUN))
def plan_run(**kwargs: Any) -> None:
    payload = PLAN_RUN.parse(kwargs)
    rt = runtime()
    step = Step(rt, payload.run_id, "plan")

    def body() -> StepResult:
        mark_running(rt, payload.run_id)
        selection = select(payload.stages)
        skipped = f"; not synced by proxbox-mq yet: {', '.join(selection.skipped)}" if selection.skipped else ""
        rt.publisher.publish(StepEvent(run_id=payload.run_id, step="run", status="started",
                                       message=f"{payload.kind} sync, stages "
                                               f"{', '.join(sorted(selection.stages))}{skipped}"))  # fmt: skip
        with rt.sessions() as session:
            endpoint_ids = enabled_proxmox_ids(session, payload.endpoint_ids)
        with rt.netbox_slot():  # once, before the endpoints race to create the same objects
            catalog(rt.netbox())
        rt.publisher.publish(DiscoveryEvent(run_id=payload.run_id, phase="endpoints",
                                            count=len(endpoint_ids)))  # fmt: skip
        rt.ledger.announce(payload.run_id, _message_id(), len(endpoint_ids))
        broker = dramatiq.get_broker()
        for endpoint_id in endpoint_ids:
            send(broker, SYNC_ENDPOINT,
                 SyncEndpoint(run_id=payload.run_id, endpoint_id=endpoint_id, stages=payload.stages),
                 settings, message_id=child_message_id(payload.run_id, "endpoint", endpoint_id))  # fmt: skip
        return StepResult()

    run_step(step, body)


@dramatiq.actor(**_options(SYNC_ENDPOINT))
def sync_endpoint(**kwargs: Any) -> None:
    payload = SYNC_ENDPOINT.parse(kwargs)
    rt = runtime()
    label = f"endpoint {payload.endpoint_id}"
    step = Step(rt, payload.run_id, "discovery", payload.endpoint_id, label,
                failure_counts=(("endpoint", "failed"),))

    def body() -> StepResult:
        plan = discover_and_plan(rt, payload.run_id, payload.endpoint_id, select(payload.stages))
        step.emit(plan.infra_outcomes)
        # Counted before the children exist: the endpoint's reconcile reads these counts.
        add_endpoint_counts(rt, payload.run_id, payload.endpoint_id, _message_id(), plan.infra_outcomes)
        _announce_renames(rt, payload.run_id, plan.cluster_name, plan.renamed)
        rt.ledger.announce(payload.run_id, _message_id(), len(plan.messages))
        broker = dramatiq.get_broker()
        for spec, message, message_id in plan.messages:
            send(broker, spec, message, settings, message_id=message_id)
        return StepResult(plan.infra_outcomes, counts={("endpoint", "synced"): 1})

    run_step(step, body)


@dramatiq.actor(**_options(SYNC_GUESTS))
def sync_guests(**kwargs: Any) -> None:
    payload = SYNC_GUESTS.parse(kwargs)
    rt = runtime()
    step = Step(rt, payload.run_id, "virtual-machines", payload.endpoint_id, payload.cluster_name)

    def body() -> StepResult:
        outcomes = sync_batch(rt, payload)
        step.emit(outcomes)
        add_endpoint_counts(rt, payload.run_id, payload.endpoint_id, _message_id(), outcomes)
        _maybe_reconcile(rt, payload)
        return StepResult(outcomes)

    run_step(step, body)


def _maybe_reconcile(rt: Runtime, payload: SyncGuestsBatch) -> None:
    """The batch that completes an endpoint's set announces and sends its reconcile.

    Decided by the set's size, not by who added last, so a batch redelivered after
    a crash still sends it; announce is keyed per endpoint, so it counts once.
    """
    run_id, endpoint_id = payload.run_id, payload.endpoint_id
    done_key = rt.keys.sync_batches_done(run_id, endpoint_id)
    rt.redis.sadd(done_key, payload.batch)
    total = int(rt.redis.hget(rt.keys.sync_batches(run_id, endpoint_id), "total") or 0)
    if rt.redis.scard(done_key) < total:
        return
    rt.ledger.announce(run_id, f"reconcile-trigger:{endpoint_id}", 1)
    message = Reconcile(run_id=run_id, endpoint_id=endpoint_id, cluster_name=payload.cluster_name,
                        netbox_cluster_id=payload.netbox_cluster_id)  # fmt: skip
    send(dramatiq.get_broker(), RECONCILE, message, settings,
         message_id=child_message_id(run_id, "reconcile", endpoint_id))  # fmt: skip


@dramatiq.actor(**_options(RECONCILE))
def reconcile(**kwargs: Any) -> None:
    payload = RECONCILE.parse(kwargs)
    rt = runtime()
    # No endpoint_id: reconcile adds its own counts before it writes the journal entry.
    step = Step(rt, payload.run_id, "reconcile", None, payload.cluster_name)

    def body() -> StepResult:
        state = rt.ledger.state(payload.run_id)
        if state is not None and state.closed:
            return StepResult()  # a late duplicate of a run already finished
        outcomes = reconcile_endpoint(rt, payload, step)
        return StepResult(outcomes)

    run_step(step, body)


@dramatiq.actor(**_options(SYNC_GUEST))
def sync_guest(**kwargs: Any) -> None:
    sync_one_guest(runtime(), SYNC_GUEST.parse(kwargs))


def _announce_renames(rt: Runtime, run_id: str, cluster: str, renamed: list[Renamed]) -> None:
    for change in renamed:
        rt.publisher.publish(DuplicateNameResolved(
            run_id=run_id, cluster=cluster, original_name=change.original,
            resolved_name=change.resolved, vmid=change.guest.vmid,
        ))  # fmt: skip


__all__ = ["plan_run", "reconcile", "sync_endpoint", "sync_guest", "sync_guests"]

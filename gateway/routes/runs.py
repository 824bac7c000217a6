"""Jobs in: ``POST /full-update``, ``POST /sync/individual``; runs: list, read, cancel, active."""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.bodies import query_id_list, query_int, read_model
from gateway.guest_lookup import GuestTarget, endpoint_of_cluster, guest_of_netbox_vm
from gateway.run_desk import RunDesk
from gateway.schemas import (
    ActiveRunOut,
    CancelOut,
    FullUpdateIn,
    GuestAcceptedOut,
    PluginGuestOut,
    PluginGuestQuery,
    RunAcceptedOut,
    RunId,
    RunOut,
    RunsOut,
    RunUrls,
    SyncActiveOut,
    SyncGuestIn,
)
from shared.db.models import RunStatus, SyncRun
from shared.errors import NotFound, ValidationFailed
from shared.runs import LedgerState


def run_urls(run_id: str) -> RunUrls:
    return RunUrls(self=f"/runs/{run_id}", events=f"/runs/{run_id}/events", cancel=f"/runs/{run_id}")


def _desk(request: Request) -> RunDesk:
    desk: RunDesk = request.app.state.runs
    return desk


_run_id: TypeAdapter[str] = TypeAdapter(RunId)


def run_id_param(request: Request) -> str:
    try:
        return _run_id.validate_python(request.path_params["run_id"])
    except ValidationError:
        raise ValidationFailed("run_id: 8-64 letters, digits, '-' or '_'") from None


async def full_update(request: Request) -> Response:
    """202 with the run id; an identical run in flight is joined, not duplicated."""
    body = await read_model(request, FullUpdateIn, empty_ok=True)
    endpoint_ids = body.endpoint_ids or query_id_list(request, "proxmox_endpoint_ids", "endpoint_ids")
    desk = _desk(request)
    started = await desk.call(desk.start_run, sorted(set(endpoint_ids)) if endpoint_ids else None,
                              body.stages)  # fmt: skip
    accepted = RunAcceptedOut(
        run_id=started.run_id, joined=started.joined, status="running" if started.joined else "queued",
        urls=run_urls(started.run_id),
    )  # fmt: skip
    return JSONResponse(accepted.model_dump(), status_code=202)


async def _queue_guest(request: Request, target: GuestTarget, reason: str) -> GuestAcceptedOut:
    desk = _desk(request)
    run_id, coalesced = await desk.call(desk.sync_guest, target.endpoint_id, target.vmid, reason)
    return GuestAcceptedOut(
        run_id=run_id, coalesced=coalesced, urls=run_urls(run_id) if run_id else None,
        endpoint_id=target.endpoint_id, vmid=target.vmid,
    )  # fmt: skip


async def sync_guest(request: Request) -> Response:
    """Queue a targeted sync of one guest, named by endpoint and vmid or by NetBox VM id."""
    body = await read_model(request, SyncGuestIn)
    if body.netbox_vm_id is not None:
        state = request.app.state
        target = await guest_of_netbox_vm(state.sessions, state.secrets, body.netbox_vm_id)
    else:
        assert body.endpoint_id is not None and body.vmid is not None  # the model requires both
        target = GuestTarget(body.endpoint_id, body.vmid)
    accepted = await _queue_guest(request, target, body.reason)
    return JSONResponse(accepted.model_dump(), status_code=202)


async def plugin_sync_guest(request: Request) -> Response:
    """The plugin's "Sync now": ``GET /sync/individual/vm?cluster_name&node&type&vmid`` (or as path)."""
    query = PluginGuestQuery.model_validate({**request.query_params, **request.path_params})
    endpoint_ids = query_id_list(request, "proxmox_endpoint_ids")
    state = request.app.state
    if endpoint_ids and len(endpoint_ids) == 1:
        endpoint_id = endpoint_ids[0]
    else:
        endpoint_id = await endpoint_of_cluster(state.sessions, state.secrets, query.cluster_name)
    accepted = await _queue_guest(request, GuestTarget(endpoint_id, query.vmid), "plugin")
    resource = {"cluster_name": query.cluster_name, "node": query.node, "type": query.type,
                "vmid": query.vmid}  # fmt: skip
    out = PluginGuestOut(**accepted.model_dump(), proxmox_resource=resource)
    return JSONResponse(out.model_dump(), status_code=202)


def run_out(row: SyncRun, ledger: LedgerState | None) -> RunOut:
    return RunOut(
        id=row.id, kind=row.kind, status=row.status.value, scope=row.scope or {},
        counts=row.counts or (ledger.counts() if ledger else {}),
        error_summary=row.error_summary, created_at=row.created_at.timestamp(),
        started_at=row.started_at.timestamp() if row.started_at else None,
        finished_at=row.finished_at.timestamp() if row.finished_at else None,
        expected=ledger.expected if ledger else None, done=ledger.done if ledger else None,
        failed=ledger.failed if ledger else None,
        cancel_requested=bool(ledger and ledger.cancelled), urls=run_urls(row.id),
    )  # fmt: skip


async def list_runs(request: Request) -> Response:
    limit = query_int(request, "limit", 50, minimum=1, maximum=500)
    offset = query_int(request, "offset", 0, minimum=0, maximum=10_000_000)
    status = request.query_params.get("status") or None
    if status is not None and status not in {member.value for member in RunStatus}:
        raise ValidationFailed(f"status: one of {', '.join(m.value for m in RunStatus)}")
    desk = _desk(request)
    rows, total = await desk.call(desk.list_rows, limit, offset, status)
    runs = [run_out(row, None) for row in rows]
    return JSONResponse(RunsOut(runs=runs, total=total).model_dump())


async def get_run(request: Request) -> Response:
    run_id = run_id_param(request)
    desk = _desk(request)
    row = await desk.call(desk.get_row, run_id)
    if row is None:
        raise NotFound(f"run {run_id} does not exist")
    ledger = await desk.call(desk.ledger.state, run_id)
    return JSONResponse(run_out(row, ledger).model_dump())


async def cancel_run(request: Request) -> Response:
    """Ask workers to stop taking the run's messages; the run then ends ``cancelled``."""
    run_id = run_id_param(request)
    desk = _desk(request)
    status = await desk.call(desk.cancel, run_id)
    result = CancelOut(run_id=run_id, cancel_requested=True, status=status)
    return JSONResponse(result.model_dump(), status_code=202)


async def sync_active(request: Request) -> Response:
    """Runs in flight across every gateway and worker process (the ledger's active set)."""
    desk = _desk(request)
    active = await desk.call(desk.active)
    runs: list[ActiveRunOut] = []
    for run_id, started_at in active:
        state = await desk.call(desk.ledger.state, run_id)
        runs.append(ActiveRunOut(id=run_id, kind=state.fields.get("kind", "?") if state else "?",
                                 started_at=started_at))  # fmt: skip
    first = runs[0] if runs else None
    result = SyncActiveOut(
        active=bool(runs), id=first.id if first else None, kind=first.kind if first else None,
        started_at=first.started_at if first else None, runs=runs,
    )  # fmt: skip
    return JSONResponse(result.model_dump())


routes: list[BaseRoute] = [
    Route("/full-update", full_update, methods=["POST"]),
    Route("/sync/individual", sync_guest, methods=["POST"]),
    Route("/sync/individual/vm", sync_guest, methods=["POST"]),
    Route("/sync/individual/vm", plugin_sync_guest, methods=["GET"]),
    Route("/sync/individual/vm/{cluster_name}/{node}/{type}/{vmid}", plugin_sync_guest, methods=["GET"]),
    Route("/sync/active", sync_active, methods=["GET"]),
    Route("/runs", list_runs, methods=["GET"]),
    Route("/runs/{run_id}", get_run, methods=["GET"]),
    Route("/runs/{run_id}", cancel_run, methods=["DELETE"]),
]

"""Progress out over SSE: ``/runs/{id}/events`` (resumable) and ``/full-update/stream`` (plugin).

A client that disconnects only ends its own stream; the run goes on (the
plugin's stage retry re-requests the stream and joins the same run).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.bodies import query_id_list
from gateway.hub import ProgressHub, run_event_source
from gateway.metrics import GatewayMetrics
from gateway.routes.runs import run_id_param
from gateway.run_desk import RunDesk
from gateway.sse import plugin_event_frame, plugin_frame, resumable_frame, sse_response
from shared.errors import NotFound, ValidationFailed
from shared.keys import Keys
from shared.sync.stages import check_stage_names

STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


async def _frames(
    request: Request, run_id: str, after: str | None, *, plugin: bool, lead: bytes | None = None
) -> AsyncIterator[bytes]:
    state = request.app.state
    hub: ProgressHub = state.hub
    metrics: GatewayMetrics = state.metrics
    transport = "sse_plugin" if plugin else "sse"
    metrics.open_streams.labels(transport).inc()
    try:
        if lead is not None:
            yield lead
        async for event in run_event_source(hub, state.redis, state.keys, run_id, after):
            yield plugin_event_frame(event) if plugin else resumable_frame(event)
            if event.name == "complete":
                return  # exactly one complete ends every stream
    finally:
        metrics.open_streams.labels(transport).dec()


async def _run_known(request: Request, run_id: str) -> bool:
    keys: Keys = request.app.state.keys
    if await request.app.state.redis.exists(keys.run_events(run_id)):
        return True
    desk: RunDesk = request.app.state.runs
    return await desk.call(desk.get_row, run_id) is not None


async def run_events(request: Request) -> Response:
    """SSE with ``id:`` = stream id; ``Last-Event-ID`` (or ``?last_event_id=``) resumes after it."""
    run_id = run_id_param(request)
    after = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if after is not None and not STREAM_ID.match(after):
        raise ValidationFailed("Last-Event-ID: expected a stream id like 1700000000000-0")
    if not await _run_known(request, run_id):
        raise NotFound(f"run {run_id} does not exist")
    frames = _frames(request, run_id, after, plugin=False)
    return sse_response(frames, request.app.state.settings.sse_keepalive_s)


async def full_update_stream(request: Request) -> Response:
    """Start (or join) a full update and stream it in the plugin's framing until ``complete``."""
    endpoint_ids = query_id_list(request, "proxmox_endpoint_ids", "endpoint_ids")
    raw_stages = request.query_params.get("stages")
    names = [name.strip() for name in raw_stages.split(",") if name.strip()] if raw_stages else []
    stages = check_stage_names(names) if names else None
    desk: RunDesk = request.app.state.runs
    started = await desk.call(desk.start_run, endpoint_ids, stages)
    verb = "joined the running" if started.joined else "queued"
    return plugin_stream(request, started.run_id, "full-update", f"{verb} full update {started.run_id}")


def plugin_stream(request: Request, run_id: str, step: str, message: str) -> Response:
    """A run's events in the plugin's framing, led by a ``step`` frame, until ``complete``."""
    lead = plugin_frame("step", {"step": step, "status": "started", "run_id": run_id, "message": message})
    frames = _frames(request, run_id, None, plugin=True, lead=lead)
    return sse_response(frames, request.app.state.settings.sse_keepalive_s)


routes: list[BaseRoute] = [
    Route("/runs/{run_id}/events", run_events, methods=["GET"]),
    Route("/full-update/stream", full_update_stream, methods=["GET"]),
]

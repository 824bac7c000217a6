"""``/metrics``: Prometheus text exposition of this gateway process, plus run counts."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.hub import ProgressHub
from gateway.metrics import GatewayMetrics
from shared.db.models import RunStatus, SyncRun


def _runs_by_status(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        rows = session.execute(select(SyncRun.status, func.count()).group_by(SyncRun.status)).all()
    counts = {status.value: 0 for status in RunStatus}
    for status, count in rows:
        counts[RunStatus(status).value] = int(count)
    return counts


async def metrics(request: Request) -> Response:
    state = request.app.state
    gauges: GatewayMetrics = state.metrics
    hub: ProgressHub = state.hub
    for status, count in (await run_in_threadpool(_runs_by_status, state.sessions)).items():
        gauges.runs.labels(status).set(count)
    gauges.active_runs.set(await state.redis.zcard(state.keys.runs_active))
    gauges.hub_clients.set(hub.client_count)
    gauges.hub_dropped.set(hub.dropped_clients)
    return Response(generate_latest(gauges.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


routes: list[BaseRoute] = [Route("/metrics", metrics, methods=["GET"])]

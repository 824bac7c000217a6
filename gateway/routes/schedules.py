"""``/schedules``: syncs on an interval or a cron expression, with their next fire times."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.bodies import path_int, read_model
from gateway.scheduler import timing_of
from gateway.schemas import (
    ScheduleIn,
    ScheduleLastFire,
    ScheduleOut,
    SchedulePatch,
    SchedulesOut,
)
from shared.db.models import ProxmoxEndpoint, Schedule
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.keys import Keys
from shared.redis_client import reply_text
from shared.schedule import Timing


def _sessions(request: Request) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    return sessions


async def _out(request: Request, row: Schedule) -> ScheduleOut:
    keys: Keys = request.app.state.keys
    raw: dict[Any, Any] = await request.app.state.redis.hgetall(keys.schedule_last(str(row.id)))
    last = {reply_text(k): reply_text(v) for k, v in raw.items()}
    return ScheduleOut(
        id=row.id, name=row.name, interval_s=row.interval_s, cron=row.cron,
        endpoint_ids=row.endpoint_ids, stages=row.stages, enabled=row.enabled,
        next_fire_at=timing_of(row).next_slot(time.time()) if row.enabled else None,
        last_fire=ScheduleLastFire(
            slot=float(last["slot"]), outcome=last["outcome"], run_id=last.get("run_id") or None,
            detail=last.get("detail", ""),
        ) if last else None,
    )  # fmt: skip


def _check(session: Session, row: Schedule) -> None:
    """The row as it would be stored: one valid timing, endpoints that exist."""
    Timing(interval_s=row.interval_s, cron=row.cron)  # raises ValidationFailed saying what is wrong
    if row.endpoint_ids:
        found = set(
            session.scalars(
                select(ProxmoxEndpoint.id).where(ProxmoxEndpoint.id.in_(row.endpoint_ids))
            )
        )
        missing = sorted(set(row.endpoint_ids) - found)
        if missing:
            raise ValidationFailed(f"endpoint_ids: Proxmox endpoint(s) {missing} do not exist")


def _commit(session: Session, name: str) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"a schedule named {name!r} already exists") from None


async def list_schedules(request: Request) -> Response:
    with _sessions(request)() as session:
        rows = list(session.scalars(select(Schedule).order_by(Schedule.id)))
    out = SchedulesOut(schedules=[await _out(request, row) for row in rows])
    return JSONResponse(out.model_dump())


async def create_schedule(request: Request) -> Response:
    body = await read_model(request, ScheduleIn)
    with _sessions(request)() as session:
        row = Schedule(**body.model_dump())
        _check(session, row)
        session.add(row)
        _commit(session, body.name)
        session.refresh(row)
    return JSONResponse((await _out(request, row)).model_dump(), status_code=201)


def _get(session: Session, request: Request) -> Schedule:
    schedule_id = path_int(request, "schedule_id")
    row = session.get(Schedule, schedule_id)
    if row is None:
        raise NotFound(f"schedule {schedule_id} does not exist")
    return row


async def read_schedule(request: Request) -> Response:
    with _sessions(request)() as session:
        row = _get(session, request)
    return JSONResponse((await _out(request, row)).model_dump())


async def update_schedule(request: Request) -> Response:
    patch = await read_model(request, SchedulePatch)
    changes = patch.model_dump(exclude_unset=True)
    with _sessions(request)() as session:
        row = _get(session, request)
        # Switching timing kind: giving one of interval_s/cron clears the other.
        if changes.get("interval_s") is not None:
            row.cron = None
        if changes.get("cron") is not None:
            row.interval_s = None
        for name, value in changes.items():
            setattr(row, name, value)
        _check(session, row)
        _commit(session, row.name)
        session.refresh(row)
    return JSONResponse((await _out(request, row)).model_dump())


async def delete_schedule(request: Request) -> Response:
    with _sessions(request)() as session:
        session.delete(_get(session, request))
        session.commit()
    return Response(status_code=204)


routes: list[BaseRoute] = [
    Route("/schedules", list_schedules, methods=["GET"]),
    Route("/schedules", create_schedule, methods=["POST"]),
    Route("/schedules/{schedule_id}", read_schedule, methods=["GET"]),
    Route("/schedules/{schedule_id}", update_schedule, methods=["PUT"]),
    Route("/schedules/{schedule_id}", delete_schedule, methods=["DELETE"]),
]

"""The schedule loop that every gateway replica runs (see ``shared.schedule`` for why it is safe).

Each tick: read the enabled schedules, and for each one whose latest slot is due,
claim the slot in Redis; the replica that wins starts the run through the
:class:`RunDesk`. When an identical run is still in flight the desk joins it
instead, and the slot is recorded as *skipped* (previous run still running).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from gateway.background import BackgroundLoop, replica_id
from gateway.run_desk import RunDesk
from shared.db.models import Schedule
from shared.keys import Keys
from shared.schedule import CLAIM_TTL_S, Timing, claim_slot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fire:
    schedule: str
    slot: int
    outcome: str
    run_id: str | None = None
    detail: str = ""


def timing_of(row: Schedule) -> Timing:
    return Timing(interval_s=row.interval_s, cron=row.cron)


class Scheduler(BackgroundLoop):
    name = "proxbox-scheduler"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        redis: Redis,
        keys: Keys,
        desk: RunDesk,
        tick_s: float,
    ) -> None:
        super().__init__()
        self._sessions = sessions
        self._redis = redis
        self._keys = keys
        self._desk = desk
        self._tick_s = tick_s
        self._owner = replica_id()

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick(time.time())
            except Exception:  # one bad tick (database or Redis away) must not stop the loop
                logger.exception("schedule tick failed; trying again next tick")
            await asyncio.sleep(self._tick_s)

    def _enabled(self) -> list[Schedule]:
        with self._sessions() as session:
            return list(session.scalars(select(Schedule).where(Schedule.enabled.is_(True))))

    async def tick(self, now: float) -> list[Fire]:
        """Fire every due, unclaimed slot; returns what this replica fired."""
        fired = []
        for row in await run_in_threadpool(self._enabled):
            slot = timing_of(row).due_slot(now)
            if slot is None or not await claim_slot(
                self._redis, self._keys, str(row.id), slot, self._owner
            ):
                continue
            fire = await self._fire(row, slot)
            await self._record(fire)
            fired.append(fire)
        return fired

    async def _fire(self, row: Schedule, slot: int) -> Fire:
        name = str(row.id)
        try:
            started = await self._desk.call(self._desk.start_run, row.endpoint_ids, row.stages)
        except Exception as exc:  # not queued: free the slot so a replica can try again
            with contextlib.suppress(RedisError):
                await self._redis.delete(self._keys.schedule_slot(name, slot))
            logger.error("schedule %r slot %d not started: %s", row.name, slot, exc)
            return Fire(name, slot, "failed", detail=str(exc))
        if started.joined:
            logger.info(
                "schedule %r slot %d skipped: run %s still running", row.name, slot, started.run_id
            )
            return Fire(name, slot, "skipped", started.run_id, "previous run still running")
        logger.info("schedule %r slot %d started run %s", row.name, slot, started.run_id)
        return Fire(name, slot, "started", started.run_id)

    async def _record(self, fire: Fire) -> None:
        key = self._keys.schedule_last(fire.schedule)
        mapping = {"slot": fire.slot, "outcome": fire.outcome, "run_id": fire.run_id or "",
                   "detail": fire.detail}  # fmt: skip
        with contextlib.suppress(RedisError):
            await self._redis.hset(key, mapping=mapping)  # type: ignore[arg-type]
            await self._redis.expire(key, CLAIM_TTL_S)

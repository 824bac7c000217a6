"""/schedules: CRUD with clear errors, next fire times, and one run per slot across replicas."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select

from gateway.run_desk import RunDesk
from gateway.scheduler import Scheduler
from shared.broker import build_broker
from shared.db.engine import build_engine, build_sessionmaker
from shared.db.models import Schedule, SyncRun
from shared.keys import Keys
from shared.redis_client import async_client, sync_client
from shared.settings import Settings
from tests.conftest import gateway_client
from tests.integration.gateway_support import bootstrap

pytestmark = pytest.mark.anyio


async def test_create_read_update_delete_with_next_fire_time(gateway_settings: Settings) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        created = await client.post("/schedules", json={"name": "nightly", "cron": "30 2 * * *"})
        schedule_id = created.json()["id"]
        listed = await client.get("/schedules")
        updated = await client.put(f"/schedules/{schedule_id}", json={"interval_s": 3600})
        disabled = await client.put(f"/schedules/{schedule_id}", json={"enabled": False})
        deleted = await client.delete(f"/schedules/{schedule_id}")
        gone = await client.get(f"/schedules/{schedule_id}")
    assert created.status_code == 201
    body = created.json()
    assert body["cron"] == "30 2 * * *" and body["interval_s"] is None
    assert body["next_fire_at"] > time.time()
    assert time.gmtime(body["next_fire_at"])[3:5] == (2, 30)  # 02:30 UTC
    assert [s["name"] for s in listed.json()["schedules"]] == ["nightly"]
    # switching to an interval clears the cron expression
    assert updated.json()["interval_s"] == 3600 and updated.json()["cron"] is None
    assert updated.json()["next_fire_at"] % 3600 == 0
    assert disabled.json()["next_fire_at"] is None
    assert deleted.status_code == 204 and gone.status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"name": "a"}, 422, "exactly one of interval_s or cron"),
        ({"name": "a", "interval_s": 600, "cron": "* * * * *"}, 422, "exactly one"),
        ({"name": "a", "interval_s": 5}, 422, "interval_s"),
        ({"name": "a", "cron": "61 * * * * *"}, 422, "cron"),
        ({"name": "a", "cron": "0 * * * *", "endpoint_ids": [99]}, 422, "do not exist"),
        ({"name": "a", "cron": "0 * * * *", "surprise": 1}, 422, "surprise"),
        ({"cron": "0 * * * *"}, 422, "name"),
    ],
)
async def test_bad_schedules_are_refused_saying_why(
    gateway_settings: Settings, body: dict[str, object], status: int, says: str
) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        response = await client.post("/schedules", json=body)
    assert response.status_code == status
    assert says in str(response.json()["detail"])


async def test_a_second_schedule_with_the_same_name_is_a_conflict(
    gateway_settings: Settings,
) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        await client.post("/schedules", json={"name": "hourly", "cron": "0 * * * *"})
        again = await client.post("/schedules", json={"name": "hourly", "interval_s": 600})
    assert again.status_code == 409


async def test_replicas_fire_each_slot_once_and_survivors_keep_firing(
    gateway_settings: Settings,
) -> None:
    # Given three gateway replicas' schedulers sharing the database, Redis and RabbitMQ
    engine = build_engine(gateway_settings)
    sessions = build_sessionmaker(engine)
    with sessions.begin() as session:
        session.add(Schedule(name="every-ten", interval_s=600))
    keys = Keys(gateway_settings.redis_prefix)
    redis, ledger_redis = async_client(gateway_settings), sync_client(gateway_settings)
    broker = build_broker(gateway_settings, confirm_delivery=True)
    desk = RunDesk(gateway_settings, sessions, ledger_redis, broker)
    replicas = [Scheduler(sessions, redis, keys, desk, tick_s=1) for _ in range(3)]
    try:
        # When all three tick in the same second of a slot
        slot = 1_800_000_000 - 1_800_000_000 % 600
        fires = await asyncio.gather(*(replica.tick(slot + 1) for replica in replicas))
        # Then exactly one replica starts exactly one run
        started = [fire for replica_fires in fires for fire in replica_fires]
        assert [fire.outcome for fire in started] == ["started"]
        # And ticking again in the same slot fires nothing
        assert await asyncio.gather(*(replica.tick(slot + 30) for replica in replicas)) == [
            [],
            [],
            [],
        ]

        # When the next slot comes while the first run is still running: skipped, and it says so
        [skipped] = [
            f for fs in await asyncio.gather(*(r.tick(slot + 601) for r in replicas)) for f in fs
        ]
        assert (skipped.outcome, skipped.run_id) == ("skipped", started[0].run_id)

        # When the first run has finished and the replica that fired it is gone (killed)
        desk.ledger.mark_finished(started[0].run_id or "")
        survivors = replicas[1:]
        later = [
            f for fs in await asyncio.gather(*(r.tick(slot + 1201) for r in survivors)) for f in fs
        ]
        # Then a survivor fires the next slot: no slot is lost
        assert [fire.outcome for fire in later] == ["started"]
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(SyncRun)) == 2
    finally:
        desk.close()
        broker.close()
        ledger_redis.close()
        await redis.aclose()
        engine.dispose()


async def test_the_api_shows_the_last_fire(gateway_settings: Settings) -> None:
    async with gateway_client(gateway_settings) as client:
        await bootstrap(client)
        created = (await client.post("/schedules", json={"name": "often", "interval_s": 60})).json()
        # The live scheduler of this gateway fires the due slot within a tick or two
        for _ in range(50):
            last = (await client.get(f"/schedules/{created['id']}")).json()["last_fire"]
            if last:
                break
            await asyncio.sleep(0.1)
        runs = (await client.get("/runs")).json()
    assert last is not None and last["outcome"] == "started"
    assert last["run_id"] in {run["id"] for run in runs["runs"]}

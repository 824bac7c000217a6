"""Three gateway processes share one schedule: one run per slot, and a killed one loses no slot."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from shared.db.engine import build_engine, build_sessionmaker
from shared.db.models import Schedule, SyncRun
from shared.keys import Keys
from shared.redis_client import sync_client
from shared.settings import Settings
from tests.integration.gateway_support import spawn_gateway, wait_serving


def start_gateways(settings: Settings, count: int) -> list[subprocess.Popen[bytes]]:
    spawned = [spawn_gateway(settings) for _ in range(count)]  # all start at once, then wait
    for process, url in spawned:
        wait_serving(url)
        process.port = int(url.rsplit(":", 1)[1])  # type: ignore[attr-defined]
    return [process for process, _ in spawned]


@pytest.fixture
def scheduled(gateway_settings: Settings) -> Iterator[tuple[Settings, int]]:
    engine = build_engine(gateway_settings)
    with build_sessionmaker(engine).begin() as session:
        row = Schedule(name="every-minute", interval_s=60)
        session.add(row)
        session.flush()
        schedule_id = row.id
    engine.dispose()
    yield gateway_settings, schedule_id


def run_rows(settings: Settings) -> list[SyncRun]:
    engine = build_engine(settings)
    try:
        with build_sessionmaker(engine)() as session:
            return list(session.scalars(select(SyncRun)))
    finally:
        engine.dispose()


def wait_for_runs(settings: Settings, count: int, timeout: float) -> list[SyncRun]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = run_rows(settings)
        if len(rows) >= count:
            return rows
        time.sleep(0.2)
    return run_rows(settings)


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_three_gateway_processes_start_one_run_for_a_due_slot(
    scheduled: tuple[Settings, int],
) -> None:
    settings, _ = scheduled
    processes = start_gateways(settings, 3)
    try:
        assert len(wait_for_runs(settings, 1, timeout=30)) >= 1
        time.sleep(3)  # three more ticks of every replica
        assert len(run_rows(settings)) == 1
    finally:
        stop_all(processes)


@pytest.mark.slow
def test_killing_the_replica_that_fired_loses_no_slot(scheduled: tuple[Settings, int]) -> None:
    settings, schedule_id = scheduled
    processes = start_gateways(settings, 3)
    client = sync_client(settings)
    try:
        [first] = wait_for_runs(settings, 1, timeout=30)
        slot = int(time.time()) // 60 * 60
        owner = client.get(Keys(settings.redis_prefix).schedule_slot(str(schedule_id), slot))
        assert owner is not None
        winner = next(p for p in processes if owner.decode().endswith(f":{p.pid}"))
        winner.send_signal(signal.SIGKILL)
        winner.wait()
        # The first run "finishes" (no worker here): the next slot may start a new run
        client.zrem(Keys(settings.redis_prefix).runs_active, first.id)
        rows = wait_for_runs(settings, 2, timeout=75)
        assert len(rows) == 2
    finally:
        client.close()
        stop_all(processes)

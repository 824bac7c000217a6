"""The run ledger closes a fanned-out run exactly once, whatever is redelivered."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import redis

from shared.keys import Keys
from shared.runs import RunLedger, child_message_id
from shared.settings import Settings


def ledger(settings: Settings, client: redis.Redis) -> RunLedger:
    return RunLedger(client, Keys(settings.redis_prefix))


def test_the_last_settle_closes_the_run(settings: Settings, redis_client: redis.Redis) -> None:
    runs = ledger(settings, redis_client)
    # Given a planner that fans out to three children
    runs.open("r1", kind="full", first_message_id="plan")
    assert runs.announce("r1", "plan", 3)
    assert not runs.settle("r1", "plan", ok=True)
    # When the children finish, one of them failing
    assert not runs.settle("r1", "c1", ok=True)
    assert not runs.settle("r1", "c2", ok=False)
    # Then the last one to finish is the one that closes the run
    assert runs.settle("r1", "c3", ok=True)
    state = runs.state("r1")
    assert state is not None
    assert (state.expected, state.done, state.failed, state.closed) == (4, 3, 1, True)


def test_a_redelivered_message_neither_announces_nor_settles_twice(
    settings: Settings, redis_client: redis.Redis
) -> None:
    runs = ledger(settings, redis_client)
    runs.open("r2", kind="full", first_message_id="plan")
    assert runs.announce("r2", "plan", 2)
    # The planner is redelivered after a crash: it announces its children again
    assert not runs.announce("r2", "plan", 2)
    runs.settle("r2", "plan", ok=True)
    runs.settle("r2", "child-a", ok=True, counts={("virtual_machine", "created"): 5})
    # child-a redelivered: its objects are not counted twice and it does not close the run
    assert not runs.settle("r2", "child-a", ok=True, counts={("virtual_machine", "created"): 5})
    assert runs.settle("r2", "child-b", ok=True, counts={("virtual_machine", "unchanged"): 2})
    state = runs.state("r2")
    assert state is not None
    assert state.counts() == {"virtual_machine": {"created": 5, "unchanged": 2}}
    assert state.pending == 0


def test_exactly_one_of_many_concurrent_settles_closes(
    settings: Settings, redis_client: redis.Redis
) -> None:
    runs = ledger(settings, redis_client)
    runs.open("r3", kind="full", first_message_id="plan")
    children = [child_message_id("r3", 1, "batch", i) for i in range(200)]
    runs.announce("r3", "plan", len(children))
    runs.settle("r3", "plan", ok=True)
    with ThreadPoolExecutor(max_workers=8) as pool:
        closes = list(pool.map(lambda mid: runs.settle("r3", mid, ok=True), children))
    assert closes.count(True) == 1


def test_child_ids_are_deterministic() -> None:
    assert child_message_id("r", 1, "batch", 0) == child_message_id("r", 1, "batch", 0)
    assert child_message_id("r", 1, "batch", 0) != child_message_id("r", 1, "batch", 1)


def test_cancel_marks_the_run_and_active_lists_it_until_finished(
    settings: Settings, redis_client: redis.Redis
) -> None:
    runs = ledger(settings, redis_client)
    assert not runs.cancel("unknown")
    runs.open("r4", kind="full", first_message_id="plan")
    assert runs.active() == ["r4"]
    assert runs.cancel("r4")
    assert runs.is_cancelled("r4")
    runs.mark_finished("r4")
    assert runs.active() == []

"""Polling fallback: guests that appear, change or vanish in Proxmox get a targeted sync."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from gateway.poller import Poller, changed_guests, next_in_turn
from gateway.run_desk import RunDesk
from shared.broker import build_broker
from shared.crypto import SecretBox
from shared.db.engine import build_engine, build_sessionmaker
from shared.db.models import ProxmoxEndpoint
from shared.keys import Keys
from shared.messages import SYNC_GUEST
from shared.redis_client import async_client, sync_client
from shared.settings import Settings
from tests.integration.test_gateway_runs import drain
from tests.pvesim.handle import SimEndpoint

pytestmark = pytest.mark.anyio


@dataclass
class Rig:
    poller: Poller
    endpoint: ProxmoxEndpoint
    sim: SimEndpoint


@pytest.fixture
async def rig(gateway_settings: Settings, pve: SimEndpoint) -> AsyncIterator[Rig]:
    engine = build_engine(gateway_settings)
    sessions = build_sessionmaker(engine)
    box = SecretBox.from_settings(gateway_settings)
    user, token_name = pve.token_id.split("!", 1)
    with sessions.begin() as session:
        endpoint = ProxmoxEndpoint(
            name=pve.name, ip_address=pve.host, port=pve.port, username=user, verify_ssl=False,
            token_name=token_name, token_value_enc=box.encrypt(pve.token_secret), timeout=10,
        )  # fmt: skip
        session.add(endpoint)
    redis, ledger_redis = async_client(gateway_settings), sync_client(gateway_settings)
    broker = build_broker(gateway_settings, confirm_delivery=True)
    desk = RunDesk(gateway_settings, sessions, ledger_redis, broker)
    keys = Keys(gateway_settings.redis_prefix)
    yield Rig(Poller(sessions, redis, keys, desk, box, interval_s=30), endpoint, pve)
    desk.close()
    broker.close()
    ledger_redis.close()
    await redis.aclose()
    engine.dispose()


def test_config_digests_are_read_in_turn_wrapping_around() -> None:
    vmids = [100, 101, 102, 103, 104]
    assert next_in_turn(vmids, after=0, budget=2) == [100, 101]
    assert next_in_turn(vmids, after=101, budget=2) == [102, 103]
    assert next_in_turn(vmids, after=103, budget=3) == [104, 100, 101]
    assert next_in_turn(vmids, after=104, budget=9) == vmids
    assert next_in_turn([], after=5, budget=3) == []


def test_changes_are_what_differs_between_snapshots() -> None:
    before = {"100": "a", "101": "b", "102": "c"}
    now = {"100": "a", "101": "B", "103": "d"}
    assert changed_guests(before, now) == [101, 102, 103]


async def test_the_first_poll_records_and_later_polls_queue_changed_guests(
    rig: Rig, gateway_settings: Settings
) -> None:
    # Given a first poll that only records the estate
    assert await rig.poller.poll(rig.endpoint) == []
    # When guests change behind the sync's back: rename, stop, migrate, removal, creation
    running = sorted(g.vmid for g in rig.sim.guests() if g.status == "running")
    renamed, stopped, moved, removed = running[:4]
    rig.sim.rename_guest(renamed, "renamed-guest")
    rig.sim.stop_guest(stopped)
    target = next(n for n in rig.sim.cluster.nodes if n != rig.sim.guest(moved).node)
    rig.sim.move_guest(moved, target)
    rig.sim.remove_guest(removed)
    added = rig.sim.add_guest(kind="lxc", name="brand-new", node=target).vmid
    # Then the next poll queues exactly those guests, one targeted sync each
    changed = await rig.poller.poll(rig.endpoint)
    assert changed == sorted([renamed, stopped, moved, removed, added])
    queued = drain(gateway_settings, SYNC_GUEST.queue_name(gateway_settings))
    assert sorted(m["kwargs"]["vmid"] for m in queued) == changed
    assert {m["kwargs"]["reason"] for m in queued} == {"poll"}
    # And a poll with nothing new costs one light request and queues nothing
    rig.sim.reset_counts()
    assert await rig.poller.poll(rig.endpoint) == []
    assert rig.sim.request_count("/cluster/resources", "GET") == 1
    assert rig.sim.request_count("/nodes/*", "GET") == 0


async def test_one_replica_polls_each_slot(rig: Rig) -> None:
    first = await rig.poller.poll_all(slot=1_800_000_000)
    second = await rig.poller.poll_all(slot=1_800_000_000)
    assert list(first) == [rig.endpoint.id]
    assert second == {}


async def test_config_edits_invisible_in_resources_are_found_by_digest_within_a_few_polls(
    rig: Rig, gateway_settings: Settings
) -> None:
    # Given a poller that reads 3 guests' config digests per poll, and an estate it has seen whole
    poller = Poller(rig.poller._sessions, rig.poller._redis, rig.poller._keys, rig.poller._desk,
                    rig.poller._box, interval_s=30, config_budget=3)  # fmt: skip
    guests = sorted(g.vmid for g in rig.sim.guests())
    turns = -(-len(guests) // 3)
    for _ in range(turns + 1):
        assert await poller.poll(rig.endpoint) == []
    # When a guest's config is edited through the API in a way /cluster/resources does not show
    edited = guests[len(guests) // 2]
    guest = rig.sim.guest(edited)
    kind = "qemu" if guest.kind == "qemu" else "lxc"
    getattr(rig.sim.proxmox().nodes(guest.node), kind)(edited).config.put(description="moved racks")
    # Then within one full turn of polls exactly that guest is queued, once
    rig.sim.reset_counts()
    found = [await poller.poll(rig.endpoint) for _ in range(turns)]
    assert sorted(v for polled in found for v in polled) == [edited]
    queued = drain(gateway_settings, SYNC_GUEST.queue_name(gateway_settings))
    assert [m["kwargs"]["vmid"] for m in queued] == [edited]
    # And each poll read at most its budget of configs (plus the one resources call)
    assert rig.sim.request_count("/cluster/resources", "GET") == turns
    assert rig.sim.request_count("/nodes/*", "GET") <= 3 * turns

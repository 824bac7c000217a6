"""One slot fires once, however many replicas race for it."""

from __future__ import annotations

import asyncio

import pytest

from shared.keys import Keys
from shared.redis_client import async_client
from shared.schedule import claim_slot
from shared.settings import Settings

pytestmark = pytest.mark.anyio


async def test_exactly_one_replica_wins_each_slot(settings: Settings) -> None:
    client = async_client(settings)
    keys = Keys(settings.redis_prefix)
    try:
        # Given three replicas racing for the same ten slots
        results = await asyncio.gather(
            *(
                claim_slot(client, keys, "nightly", slot, owner=f"gw{replica}")
                for slot in range(1000, 1010)
                for replica in range(3)
            )
        )
        # Then every slot has exactly one winner
        per_slot = [results[i : i + 3] for i in range(0, len(results), 3)]
        assert all(winners.count(True) == 1 for winners in per_slot)
        # And a slot claimed once stays claimed
        assert not await claim_slot(client, keys, "nightly", 1000, owner="late")
    finally:
        await client.aclose()

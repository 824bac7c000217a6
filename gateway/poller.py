"""Polling fallback: what hookscripts cannot see (create, destroy, rename, resize, migration,
config edits).

Every ``PROXBOX_POLL_INTERVAL_S`` each enabled endpoint is polled once (one
replica wins the slot, as for schedules): one light ``/cluster/resources?type=vm``
call. Each guest's fingerprint (node, status, name, template, tags, sizes, lock)
is compared with the one stored at the last poll; every guest that appeared,
changed or vanished gets a targeted, coalesced sync. The first poll of an
endpoint only records fingerprints (a full sync covers the initial state).

Config-only changes (a NIC added, a VLAN tag changed) leave those fields alone, so
each poll also reads the config ``digest`` of up to ``PROXBOX_POLL_CONFIG_BUDGET``
guests, taking them in turn (a cursor in Redis): with G guests every config is
looked at within ``ceil(G / budget)`` polls, at a bounded cost per poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from gateway.background import BackgroundLoop, replica_id
from gateway.peers import ProxmoxReader
from gateway.run_desk import RunDesk
from shared.crypto import SecretBox
from shared.db.models import ProxmoxEndpoint
from shared.keys import Keys
from shared.redis_client import reply_text
from shared.schedule import claim_slot

logger = logging.getLogger(__name__)

#: Fields of a /cluster/resources guest entry whose change means the guest needs a sync.
WATCHED = (
    "node",
    "status",
    "name",
    "template",
    "tags",
    "maxmem",
    "maxcpu",
    "maxdisk",
    "lock",
    "type",
)


def fingerprint(entry: dict[str, Any]) -> str:
    watched = {name: entry.get(name) for name in WATCHED}
    return hashlib.sha1(json.dumps(watched, sort_keys=True).encode()).hexdigest()[:16]


#: Config reads in flight at once during a poll's digest check.
DIGEST_CONCURRENCY = 8


def next_in_turn(vmids: list[int], after: int, budget: int) -> list[int]:
    """Up to ``budget`` of the sorted ``vmids`` that follow ``after``, wrapping around once."""
    later = [v for v in vmids if v > after]
    return (later + [v for v in vmids if v <= after])[: max(0, budget)]


def changed_guests(before: dict[str, str], now: dict[str, str]) -> list[int]:
    """vmids that appeared, changed or vanished between two snapshots (vmid -> fingerprint)."""
    return sorted(int(vmid) for vmid in set(before) | set(now) if before.get(vmid) != now.get(vmid))


class Poller(BackgroundLoop):
    name = "proxbox-poller"

    def __init__(
        self, sessions: sessionmaker[Session], redis: Redis, keys: Keys, desk: RunDesk,
        box: SecretBox, interval_s: int, config_budget: int = 0,
    ) -> None:  # fmt: skip
        super().__init__()
        self._sessions = sessions
        self._redis = redis
        self._keys = keys
        self._desk = desk
        self._box = box
        self._interval_s = interval_s
        self._budget = config_budget
        self._owner = replica_id()

    async def _loop(self) -> None:
        while True:
            slot = int(time.time()) // self._interval_s * self._interval_s
            try:
                await self.poll_all(slot)
            except Exception:  # the next slot tries again
                logger.exception("poll of slot %d failed", slot)
            await asyncio.sleep(max(0.5, slot + self._interval_s - time.time()))

    def _endpoints(self) -> list[ProxmoxEndpoint]:
        with self._sessions() as session:
            return list(
                session.scalars(select(ProxmoxEndpoint).where(ProxmoxEndpoint.enabled.is_(True)))
            )

    async def poll_all(self, slot: int) -> dict[int, list[int]]:
        """Poll every endpoint whose slot this replica wins; endpoint id -> vmids queued."""
        queued = {}
        for endpoint in await run_in_threadpool(self._endpoints):
            if await claim_slot(self._redis, self._keys, f"poll-{endpoint.id}", slot, self._owner):
                queued[endpoint.id] = await self.poll(endpoint)
        return queued

    async def poll(self, endpoint: ProxmoxEndpoint) -> list[int]:
        async with ProxmoxReader(endpoint, self._box) as pve:
            resources = await pve.read("/cluster/resources", {"type": "vm"})
            guests = {int(e["vmid"]): e for e in resources if "vmid" in e and "node" in e}
            now = {str(vmid): fingerprint(entry) for vmid, entry in guests.items()}
            raw: dict[Any, Any] = await self._redis.hgetall(self._keys.poll_snapshot(endpoint.id))
            before = {reply_text(k): reply_text(v) for k, v in raw.items()}
            await self._store(endpoint.id, before, now)
            edited = await self._config_edits(pve, endpoint.id, guests) if self._budget else []
        if not before:
            return []
        changed = sorted(set(changed_guests(before, now)) | set(edited))
        for vmid in changed:
            await self._desk.call(self._desk.sync_guest, endpoint.id, vmid, "poll")
        if changed:
            logger.info(
                "poll of %s: %d guest(s) changed, syncs queued", endpoint.name, len(changed)
            )
        return changed

    async def _config_edits(
        self, pve: ProxmoxReader, endpoint_id: int, guests: dict[int, dict[str, Any]]
    ) -> list[int]:
        """Guests (the next ``budget`` in turn) whose config digest moved since it was last read."""
        digests_key, cursor_key = self._keys.poll_digests(endpoint_id), self._keys.poll_cursor(endpoint_id)
        cursor = int(await self._redis.get(cursor_key) or 0)
        batch = next_in_turn(sorted(guests), cursor, self._budget)
        if not batch:
            return []
        gate = asyncio.Semaphore(DIGEST_CONCURRENCY)

        async def digest(vmid: int) -> str | None:
            entry = guests[vmid]
            async with gate:
                try:
                    config = await pve.read(f"/nodes/{entry['node']}/{entry['type']}/{vmid}/config")
                except Exception as exc:  # a node offline or a guest gone: the next turn tries again
                    logger.debug("config of %s not read: %s", vmid, type(exc).__name__)
                    return None
            return str(config.get("digest") or "") or None

        read = dict(zip(batch, await asyncio.gather(*(digest(v) for v in batch)), strict=True))
        stored = await self._redis.hmget(digests_key, [str(v) for v in batch])
        known = {v: reply_text(d) for v, d in zip(batch, stored, strict=True) if d is not None}
        fresh = {str(v): d for v, d in read.items() if d is not None}
        pipe = self._redis.pipeline(transaction=True)
        if fresh:
            pipe.hset(digests_key, mapping=fresh)  # type: ignore[arg-type]
        pipe.set(cursor_key, batch[-1])
        await pipe.execute()
        return [v for v, d in read.items() if d is not None and known.get(v, d) != d]

    async def _store(self, endpoint_id: int, before: dict[str, str], now: dict[str, str]) -> None:
        """This poll's fingerprints; a vanished guest's digest goes too (a re-created vmid starts fresh)."""
        key = self._keys.poll_snapshot(endpoint_id)
        pipe = self._redis.pipeline(transaction=True)
        gone = [vmid for vmid in before if vmid not in now]
        if gone:
            pipe.hdel(key, *gone)
            pipe.hdel(self._keys.poll_digests(endpoint_id), *gone)
        if now:
            pipe.hset(key, mapping=now)  # type: ignore[arg-type]
        await pipe.execute()

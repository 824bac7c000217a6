"""Polling fallback: what hookscripts cannot see (create, destroy, rename, resize, migration).

Every ``PROXBOX_POLL_INTERVAL_S`` each enabled endpoint is polled once (one
replica wins the slot, as for schedules): one light ``/cluster/resources?type=vm``
call. Each guest's fingerprint (node, status, name, template, tags, sizes, lock)
is compared with the one stored at the last poll; every guest that appeared,
changed or vanished gets a targeted, coalesced sync. The first poll of an
endpoint only records fingerprints (a full sync covers the initial state).
Config-only changes that leave these fields alone (a NIC added) wait for the next
full run or a hook event.
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
from gateway.peers import proxmox_read
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


def changed_guests(before: dict[str, str], now: dict[str, str]) -> list[int]:
    """vmids that appeared, changed or vanished between two snapshots (vmid -> fingerprint)."""
    return sorted(int(vmid) for vmid in set(before) | set(now) if before.get(vmid) != now.get(vmid))


class Poller(BackgroundLoop):
    name = "proxbox-poller"

    def __init__(
        self, sessions: sessionmaker[Session], redis: Redis, keys: Keys, desk: RunDesk,
        box: SecretBox, interval_s: int,
    ) -> None:  # fmt: skip
        super().__init__()
        self._sessions = sessions
        self._redis = redis
        self._keys = keys
        self._desk = desk
        self._box = box
        self._interval_s = interval_s
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
        resources = await proxmox_read(endpoint, self._box, "/cluster/resources", {"type": "vm"})
        now = {str(entry["vmid"]): fingerprint(entry) for entry in resources if "vmid" in entry}
        key = self._keys.poll_snapshot(endpoint.id)
        raw: dict[Any, Any] = await self._redis.hgetall(key)
        before = {reply_text(k): reply_text(v) for k, v in raw.items()}
        await self._store(key, before, now)
        if not before:
            return []
        changed = changed_guests(before, now)
        for vmid in changed:
            await self._desk.call(self._desk.sync_guest, endpoint.id, vmid, "poll")
        if changed:
            logger.info(
                "poll of %s: %d guest(s) changed, syncs queued", endpoint.name, len(changed)
            )
        return changed

    async def _store(self, key: str, before: dict[str, str], now: dict[str, str]) -> None:
        pipe = self._redis.pipeline(transaction=True)
        gone = [vmid for vmid in before if vmid not in now]
        if gone:
            pipe.hdel(key, *gone)
        if now:
            pipe.hset(key, mapping=now)  # type: ignore[arg-type]
        await pipe.execute()

"""Progress fan-out: ONE Redis subscription per gateway process, bounded queues per client.

Workers publish every event twice in one Lua call (``shared.events``): appended
to the run's stream (replay) and published on the progress channel (live), with
the same stream id. The hub's single reader task parses each channel message
once and hands it to the queues of the clients watching that run. A client whose
queue is full is cut off the live feed (it never slows the others); it then
sees :class:`Gap` and catches up from the run's stream by id, as does every
client after the reader reconnects to Redis. :func:`run_event_source` does that
replay-then-live dance with de-duplication by stream id, so no event is lost or
repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.events import split_channel_message
from shared.keys import Keys

logger = logging.getLogger(__name__)

#: Entries read per XRANGE page while replaying.
REPLAY_PAGE = 500
#: Reader restart back-off bounds (seconds).
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.2, 5.0


def id_order(entry_id: str) -> tuple[int, int]:
    """Stream ids ``<ms>-<seq>`` in their numeric order."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(slots=True)
class HubEvent:
    run_id: str
    entry_id: str
    name: str
    payload: str  # the event's one-line JSON, as the worker wrote it

    @classmethod
    def parse(cls, run_id: str, entry_id: str, payload: str) -> HubEvent:
        try:
            name = str(json.loads(payload).get("event") or "message")
        except (ValueError, AttributeError):
            name = "message"
        if "\n" in payload or "\r" in payload:  # SSE data must be one line
            payload = json.dumps(json.loads(payload))
        return cls(run_id, entry_id, name, payload)


class Gap(Exception):
    """The live feed skipped events for this client: catch up from the run's stream."""


@dataclass(eq=False)
class Subscription:
    run_id: str | None  # None: every run
    queue: asyncio.Queue[HubEvent | None]
    dropped: bool = False

    async def get(self) -> HubEvent:
        if self.dropped and self.queue.empty():
            raise Gap
        item = await self.queue.get()
        if item is None:  # the reader reconnected: events may have passed unseen
            raise Gap
        return item


class ProgressHub:
    def __init__(self, redis: Redis, keys: Keys, *, queue_size: int) -> None:
        self._redis = redis  # a blocking client: listening waits longer than any socket timeout
        self._keys = keys
        self._queue_size = queue_size
        self._by_run: dict[str | None, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()
        self.dropped_clients = 0

    # --- clients ---------------------------------------------------------------------------
    def subscribe(self, run_id: str | None) -> Subscription:
        subscription = Subscription(run_id, asyncio.Queue(self._queue_size))
        self._by_run.setdefault(run_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        watchers = self._by_run.get(subscription.run_id)
        if watchers is not None:
            watchers.discard(subscription)
            if not watchers:
                del self._by_run[subscription.run_id]

    @property
    def client_count(self) -> int:
        return sum(len(watchers) for watchers in self._by_run.values())

    def dispatch(self, run_id: str, entry_id: str, payload: str) -> None:
        watchers = [*self._by_run.get(run_id, ()), *self._by_run.get(None, ())]
        if not watchers:
            return
        event = HubEvent.parse(run_id, entry_id, payload)
        for subscription in watchers:
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                subscription.dropped = True
                self.unsubscribe(subscription)
                self.dropped_clients += 1

    def _signal_gap(self) -> None:
        for watchers in list(self._by_run.values()):
            for subscription in list(watchers):
                try:
                    subscription.queue.put_nowait(None)
                except asyncio.QueueFull:
                    subscription.dropped = True
                    self.unsubscribe(subscription)

    # --- the reader ------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="progress-hub-reader")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _supervise(self) -> None:
        backoff = BACKOFF_MIN_S
        first = True
        while True:
            try:
                await self._read(reconnected=not first)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                logger.warning("progress reader lost Redis (%s); reconnecting in %.1f s", exc, backoff)
            except Exception:  # keep relaying whatever one bad message did
                logger.exception("progress reader failed; restarting in %.1f s", backoff)
            first = False
            self.subscribed.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _read(self, *, reconnected: bool) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._keys.progress_channel)
            self.subscribed.set()
            if reconnected:
                self._signal_gap()
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    run_id, entry_id, payload = split_channel_message(message["data"])
                except ValueError:
                    logger.warning("ignoring a malformed progress message")
                    continue
                self.dispatch(run_id, entry_id, payload)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]


async def replay(
    redis: Redis, keys: Keys, run_id: str, after: str | None
) -> AsyncIterator[HubEvent]:
    """Events of ``run_id`` stored after stream id ``after`` (all when None), in order."""
    start = "-" if after is None else f"({after}"
    while True:
        entries: list[Any] = list(
            await redis.xrange(keys.run_events(run_id), min=start, max="+", count=REPLAY_PAGE) or []
        )
        for raw_id, fields in entries:
            entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            payload = (fields or {}).get(b"e") or (fields or {}).get("e") or b"{}"
            text = payload.decode() if isinstance(payload, bytes) else str(payload)
            yield HubEvent.parse(run_id, entry_id, text)
            start = f"({entry_id}"
        if len(entries) < REPLAY_PAGE:
            return


async def run_event_source(
    hub: ProgressHub, redis: Redis, keys: Keys, run_id: str, after: str | None
) -> AsyncIterator[HubEvent]:
    """Every event of a run after ``after``: replay, then live; each exactly once, in order.

    The subscription is taken *before* replaying, so an event published during
    the replay waits in the queue; live events at or before the last replayed id
    are skipped.
    """
    last = after
    while True:
        subscription = hub.subscribe(run_id)
        try:
            async for event in replay(redis, keys, run_id, last):
                last = event.entry_id
                yield event
            while True:
                try:
                    event = await subscription.get()
                except Gap:
                    break  # resubscribe and catch up from the stream
                if last is not None and id_order(event.entry_id) <= id_order(last):
                    continue
                last = event.entry_id
                yield event
        finally:
            hub.unsubscribe(subscription)

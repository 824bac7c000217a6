"""Progress events: typed, published by workers through :func:`publish`, relayed by the gateway.

Event names follow the netbox-proxbox plugin's SSE vocabulary (``discovery``,
``item_progress``, ``phase_summary``, ``error_detail``, ``duplicate_name_resolved``,
``step``, ``complete``) so the gateway relays them with their name as the SSE
``event:`` and the model as one-line JSON ``data:``.

Delivery: one Lua call appends the event to the run's capped stream (replay,
``Last-Event-ID``) and publishes ``<run_id>\\n<stream id>\\n<json>`` on the
progress channel (live), so live and replayed events carry the same id.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import redis
from pydantic import BaseModel, ConfigDict, Field, RootModel

from shared.keys import Keys

Action = Literal["created", "updated", "unchanged", "deleted", "soft_deleted", "failed", "skipped"]

#: Events kept per run for replay (XADD MAXLEN ~): enough for a 10k-guest run's item events.
RUN_STREAM_MAXLEN = 100_000
#: Seconds a finished run's stream and ledger stay in Redis for late readers.
RUN_RETENTION_S = 7 * 24 * 3600


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    ts: float = Field(default_factory=time.time)


class Item(BaseModel):
    """The object an event is about (the plugin's ``item``)."""

    name: str
    item_type: str
    netbox_id: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class Step(Event):
    """A run or phase changed state: started, completed, failed."""

    event: Literal["step"] = "step"
    step: str
    status: Literal["started", "completed", "failed", "progress"]
    message: str = ""
    endpoint: str | None = None
    duration_seconds: float | None = None


class Discovery(Event):
    """What a phase found in Proxmox, before it writes anything."""

    event: Literal["discovery"] = "discovery"
    phase: str
    endpoint: str | None = None
    count: int
    message: str = ""


class ItemProgress(Event):
    """One object processed: what happened to it in NetBox."""

    event: Literal["item_progress"] = "item_progress"
    phase: str
    endpoint: str | None = None
    item: Item
    operation: Action
    message: str = ""
    error: str | None = None
    warning: str | None = None


class PhaseSummary(Event):
    event: Literal["phase_summary"] = "phase_summary"
    phase: str
    endpoint: str | None = None
    status: Literal["completed", "completed_with_errors", "failed"]
    result: dict[str, int]
    message: str = ""


class ErrorDetail(Event):
    event: Literal["error_detail"] = "error_detail"
    phase: str | None = None
    endpoint: str | None = None
    item: Item | None = None
    category: Literal[
        "connection", "authentication", "permission", "validation", "not_found",
        "timeout", "rate_limit", "internal", "unknown",
    ]  # fmt: skip
    message: str
    detail: str | None = None


class DuplicateNameResolved(Event):
    event: Literal["duplicate_name_resolved"] = "duplicate_name_resolved"
    cluster: str
    original_name: str
    resolved_name: str
    vmid: int


class Complete(Event):
    """The last event of every run: exactly one, ok or not."""

    event: Literal["complete"] = "complete"
    ok: bool
    status: str
    message: str
    result: dict[str, Any] = Field(default_factory=dict)
    errors: list[dict[str, str]] = Field(default_factory=list)


AnyEvent = Annotated[
    Step | Discovery | ItemProgress | PhaseSummary | ErrorDetail | DuplicateNameResolved | Complete,
    Field(discriminator="event"),
]
class _AnyEventJson(RootModel[AnyEvent]):
    """Parses any event by its ``event`` name."""


def parse_event(data: str | bytes) -> AnyEvent:
    """Rebuild a typed event from its JSON (what :func:`publish` wrote)."""
    return _AnyEventJson.model_validate_json(data).root


# KEYS[1] run stream, KEYS[2] progress channel
# ARGV[1] stream max length (approximate), ARGV[2] run id, ARGV[3] event JSON, ARGV[4] retention s
# Returns the stream entry id. One round trip: the id live clients see equals the replay id.
_PUBLISH_LUA = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', KEYS[2], ARGV[2] .. '\\n' .. id .. '\\n' .. ARGV[3])
return id
"""


class Publisher:
    """Publishes events of any run; one per process, thread-safe (redis-py pools)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._script = client.register_script(_PUBLISH_LUA)

    def publish(self, event: Event) -> str:
        """Append ``event`` to its run's stream and announce it live; returns the stream id."""
        entry_id = self._script(
            keys=[self._keys.run_events(event.run_id), self._keys.progress_channel],
            args=[RUN_STREAM_MAXLEN, event.run_id, event.model_dump_json(), RUN_RETENTION_S],
        )
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def split_channel_message(data: bytes | str) -> tuple[str, str, str]:
    """``(run_id, stream_id, event_json)`` from a progress-channel message."""
    text = data.decode() if isinstance(data, bytes) else data
    run_id, entry_id, payload = text.split("\n", 2)
    return run_id, entry_id, payload

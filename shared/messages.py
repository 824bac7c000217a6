"""Messages between the gateway and the workers: actor name, queue and payload.

The gateway enqueues by name (:func:`send`), so it never imports worker code;
the workers declare their actors with :func:`actor_options`. Payloads are
pydantic models carried as the message's keyword arguments (plain JSON).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import dramatiq
from pydantic import BaseModel, ConfigDict

from shared.settings import Settings
from shared.sync.models import GuestRef

P = TypeVar("P", bound=BaseModel)


class Payload(BaseModel):
    """Base of every message payload: strict about unknown fields, JSON only."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class MessageSpec(Generic[P]):
    """What both sides agree on for one actor."""

    actor_name: str
    queue: str
    payload: type[P]

    def queue_name(self, settings: Settings) -> str:
        """The RabbitMQ queue, with the per-installation (or per-test-run) prefix."""
        return f"{settings.queue_prefix}{self.queue}"

    def actor_options(self, settings: Settings) -> dict[str, Any]:
        """Keyword arguments for ``dramatiq.actor`` in the worker that implements it."""
        return {"actor_name": self.actor_name, "queue_name": self.queue_name(settings)}

    def parse(self, kwargs: dict[str, Any]) -> P:
        """Validate a received message's keyword arguments into the payload model."""
        return self.payload.model_validate(kwargs)


def build_message(
    spec: MessageSpec[P], payload: P, settings: Settings, *, message_id: str | None = None
) -> dramatiq.Message[Any]:
    """A Dramatiq message; ``message_id`` makes it deterministic (see ``shared.runs``)."""
    extra: dict[str, Any] = {"message_id": message_id} if message_id else {}
    return dramatiq.Message(
        queue_name=spec.queue_name(settings),
        actor_name=spec.actor_name,
        args=(),
        kwargs=payload.model_dump(mode="json"),
        options={},
        **extra,
    )


def send(
    broker: dramatiq.Broker,
    spec: MessageSpec[P],
    payload: P,
    settings: Settings,
    *,
    delay_ms: int | None = None,
    message_id: str | None = None,
) -> dramatiq.Message[Any]:
    """Enqueue ``payload`` for the actor named by ``spec``; returns the sent message."""
    message = build_message(spec, payload, settings, message_id=message_id)
    return broker.enqueue(message, delay=delay_ms)


# --- the messages ----------------------------------------------------------------


class Ping(Payload):
    """Round-trip probe: the worker writes ``value`` to Redis key ``Keys.probe(token)``."""

    token: str
    value: str


PING = MessageSpec("ping", "proxbox.control", Ping)


class StartRun(Payload):
    """Plan a sync run: resolve endpoints, open the ledger's fan-out, send one message each.

    ``endpoint_ids`` None means every enabled Proxmox endpoint. ``stages`` None means all.
    """

    run_id: str
    kind: Literal["full", "endpoints", "guests"] = "full"
    endpoint_ids: list[int] | None = None
    stages: list[str] | None = None


PLAN_RUN = MessageSpec("plan_run", "proxbox.runs", StartRun)


class SyncGuest(Payload):
    """Targeted refresh of one guest (hook event, ``/sync/individual``), coalesced per guest.

    ``run_id`` ties it to a run record when the caller opened one.
    """

    endpoint_id: int
    vmid: int
    reason: str = "api"
    run_id: str | None = None


SYNC_GUEST = MessageSpec("sync_guest", "proxbox.guests", SyncGuest)


# --- the sync engine's internal messages (issue 4): ids and one batch, never the estate ---


class SyncEndpoint(Payload):
    """Discover one Proxmox endpoint (cluster status + ``/cluster/resources`` once), fan out."""

    run_id: str
    endpoint_id: int
    #: The run's stage names (``shared.sync.stages``); None means all.
    stages: list[str] | None = None


SYNC_ENDPOINT = MessageSpec("sync_endpoint", "proxbox.sync", SyncEndpoint)


class SyncGuestsBatch(Payload):
    """One batch of guests of one endpoint, with the NetBox ids discovery resolved."""

    run_id: str
    endpoint_id: int
    batch: int
    cluster_name: str
    netbox_cluster_id: int
    device_ids: dict[str, int]
    guests: list[GuestRef]
    stages: list[str] | None = None


SYNC_GUESTS = MessageSpec("sync_guests", "proxbox.sync", SyncGuestsBatch)


class Reconcile(Payload):
    """After an endpoint's last batch: retire stale VMs, write the cluster's journal entry."""

    run_id: str
    endpoint_id: int
    netbox_cluster_id: int
    cluster_name: str


RECONCILE = MessageSpec("reconcile", "proxbox.sync", Reconcile)


#: Every message spec, so tooling (and test clean-up) can reach every queue.
ALL_MESSAGES: tuple[MessageSpec[Any], ...] = (
    PING, PLAN_RUN, SYNC_GUEST, SYNC_ENDPOINT, SYNC_GUESTS, RECONCILE,
)  # fmt: skip

"""Event intake: who sent an event, is it genuine, and what sync it becomes.

A hookscript event becomes a *targeted* guest sync, delayed a little and
coalesced per guest (one queued sync per guest at a time; the sync reads the
state at the end of the burst). A notification about guests (a vzdump's Details
table, a replication job's vmid, a fenced node's guests as NetBox and Proxmox list
them) becomes a targeted sync of each of them; one whose guests are unknown becomes
a *scoped* sync of its endpoint, joined when one is already in flight.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.guest_lookup import guests_on_node
from gateway.run_desk import RunDesk
from shared.crypto import SecretBox
from shared.db.models import ProxmoxEndpoint
from shared.errors import AuthError, Conflict, ValidationFailed
from shared.hooks import (
    MAX_SKEW_S,
    SECRET_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    HookEvent,
    Notification,
    verify_shared_secret,
    verify_signature,
)
from shared.keys import Keys
from shared.redis_client import reply_text

logger = logging.getLogger(__name__)

#: A guest's burst of hook events (pre-start, post-start) folds into one sync this much later.
HOOK_COALESCE_DELAY_MS = 2_000
#: Stages a notification's scoped sync covers, by notification type.
NOTIFICATION_STAGES: dict[str, list[str]] = {
    "vzdump": ["guests"],
    "replication": ["guests"],
    "fencing": ["guests", "nodes"],
}
#: Guests a notification may name before it becomes a scoped sync of the endpoint instead.
MAX_GUESTS_PER_NOTIFICATION = 200
#: Seconds an endpoint lookup is reused by :class:`EndpointLookup`, and how many it keeps.
LOOKUP_TTL_S = 5.0
LOOKUP_MAX_ENTRIES = 1024
#: Refusal for an event whose endpoint is unknown or has hooks off (one message: no oracle).
NOT_ACCEPTED = "unknown endpoint, or hook events are not enabled for it"


@dataclass(frozen=True)
class Outcome:
    action: str
    run_id: str | None = None
    coalesced: bool = False
    detail: str = ""
    #: Every run the event queued or joined (a notification may name several guests).
    run_ids: list[str] = field(default_factory=list)


def parse_event(body: bytes) -> HookEvent | Notification:
    """The event in ``body``: a hook event (has ``vmid`` and ``phase``) or a notification."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("body: not valid JSON") from None
    if not isinstance(document, dict):
        raise ValidationFailed("body: a JSON object is required")
    try:
        if "vmid" in document or "phase" in document:
            return HookEvent.model_validate(document)
        return Notification.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise ValidationFailed(f"{where}: {first['msg']}") from None


class EndpointLookup:
    """Endpoints by name or id, remembered for a few seconds: a storm of hook events for
    one endpoint costs one database query per :data:`LOOKUP_TTL_S`, not one per event.
    Changing an endpoint's hook secret clears it (:meth:`forget`) in this process; other
    gateway processes see the change within the TTL."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._found: dict[str, tuple[float, ProxmoxEndpoint | None]] = {}

    def __call__(self, ref: str | None) -> ProxmoxEndpoint | None:
        if not ref:
            return None
        now = time.monotonic()
        cached = self._found.get(ref)
        if cached is not None and cached[0] > now:
            return cached[1]
        endpoint = find_endpoint(self._sessions, ref)
        if len(self._found) > LOOKUP_MAX_ENTRIES:
            self._found.clear()
        self._found[ref] = (now + LOOKUP_TTL_S, endpoint)
        return endpoint

    def forget(self) -> None:
        self._found.clear()


def find_endpoint(sessions: sessionmaker[Session], ref: str | None) -> ProxmoxEndpoint | None:
    """An endpoint by name, or by id when ``ref`` is all digits."""
    if not ref:
        return None
    with sessions() as session:
        if ref.isdigit():
            found = session.get(ProxmoxEndpoint, int(ref))
            if found is not None:
                return found
        return session.scalars(select(ProxmoxEndpoint).where(ProxmoxEndpoint.name == ref)).first()


async def verify_hook_auth(
    endpoint: ProxmoxEndpoint | None, headers: Any, body: bytes, box: SecretBox,
    redis: Redis, keys: Keys,
) -> None:  # fmt: skip
    """Signature (hookscripts) or shared secret (notification webhooks); raises AuthError/Conflict."""
    if endpoint is None or not endpoint.hook_secret_enc or not endpoint.enabled:
        raise AuthError(NOT_ACCEPTED)
    secret = box.decrypt(endpoint.hook_secret_enc)
    if headers.get(TIMESTAMP_HEADER) or headers.get(SIGNATURE_HEADER):
        verify_signature(secret, headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER), body)
        # The same signed event twice is a replay: remember it as long as it could be fresh.
        fresh = await redis.set(
            keys.hook_seen(headers[SIGNATURE_HEADER]), "1", nx=True, ex=2 * MAX_SKEW_S
        )
        if not fresh:
            raise Conflict("replayed event: this signature was already accepted")
        return
    verify_shared_secret(secret, headers.get(SECRET_HEADER))


def new_hook_secret() -> str:
    return secrets.token_urlsafe(32)


async def already_queued(
    redis: Redis, keys: Keys, endpoint_id: int, event: HookEvent
) -> str | None:
    """The run id of this guest's queued sync, if one is queued: the storm's cheap path."""
    holder = await redis.get(keys.guest_queued(endpoint_id, event.vmid))
    return None if holder is None else reply_text(holder)


async def notification_guests(
    sessions: sessionmaker[Session], box: SecretBox, endpoint: ProxmoxEndpoint, event: Notification
) -> list[int]:
    """The guests a notification is about: those its body lists, or a fenced node's guests.

    A node whose guests cannot be listed (NetBox or Proxmox unreachable) gives none, so the
    event falls back to a scoped sync of the whole endpoint rather than failing.
    """
    if event.kind != "fencing" or not event.hostname:
        return event.vmids
    try:
        return await guests_on_node(sessions, box, endpoint, event.hostname)
    except Exception as exc:  # any failure here means "fall back", never "refuse the event"
        logger.warning("guests of fenced node %s not listed (%s): syncing the endpoint",
                       event.hostname, type(exc).__name__)  # fmt: skip
        return []


def dispatch(
    desk: RunDesk, endpoint: ProxmoxEndpoint, event: HookEvent | Notification, vmids: list[int]
) -> Outcome:
    """Queue the sync an accepted event asks for (blocking: run it on the desk's threads).

    ``vmids``: for a notification, the guests it is about (:func:`notification_guests`).
    """
    if isinstance(event, HookEvent):
        run_id, coalesced = desk.sync_guest(
            endpoint.id, event.vmid, f"hook:{event.phase}", delay_ms=HOOK_COALESCE_DELAY_MS
        )
        return Outcome("guest_sync", run_id, coalesced)
    stages = NOTIFICATION_STAGES.get(event.kind)
    if stages is None:
        return Outcome("ignored", detail=f"notification type {event.kind!r} needs no sync")
    if 0 < len(vmids) <= MAX_GUESTS_PER_NOTIFICATION:
        # The guests it names, each a coalesced targeted sync: not the whole endpoint.
        queued = [desk.sync_guest(endpoint.id, vmid, f"notification:{event.kind}") for vmid in vmids]
        return Outcome("guest_syncs", queued[0][0], all(c for _, c in queued),
                       f"guests {vmids}", [run_id for run_id, _ in queued if run_id])  # fmt: skip
    started = desk.start_run([endpoint.id], stages)
    return Outcome("scoped_sync", started.run_id, started.joined, f"stages {stages}")

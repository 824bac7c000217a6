"""Server-Sent Events framing: resumable (with ``id:``) and the netbox-proxbox plugin's.

The plugin's parser appends any unknown line (``id:``, ``retry:``) to the data
buffer, which corrupts the JSON; so its streams carry only ``event:`` and one
``data:`` line per frame, ``: keepalive`` comments, and end with exactly one
``complete`` whose data is ``{ok, message, result, errors: [{detail}]}``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from gateway.hub import HubEvent

SEP = "\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
#: A send that takes longer than this means a dead or hopeless peer: end its stream.
SEND_TIMEOUT_S = 30.0


def resumable_frame(event: HubEvent) -> bytes:
    return f"id: {event.entry_id}\nevent: {event.name}\ndata: {event.payload}\n\n".encode()


def plugin_complete_data(payload: str) -> dict[str, Any]:
    """The plugin's ``SseCompletePayload`` from our ``Complete`` event (extra fields are kept)."""
    try:
        raw = json.loads(payload)
    except ValueError:
        raw = {}
    errors = []
    for error in raw.get("errors") or []:
        if isinstance(error, dict):
            detail = error.get("detail") or error.get("message") or json.dumps(error)
            errors.append({**error, "detail": str(detail)})
        else:
            errors.append({"detail": str(error)})
    result = raw.get("result")
    return {
        "ok": bool(raw.get("ok", False)),
        "message": str(raw.get("message") or ""),
        "result": result if isinstance(result, dict | list) else {},
        "errors": errors,
        "run_id": raw.get("run_id"),
        "status": raw.get("status"),
    }


def plugin_frame(name: str, data: str | dict[str, Any]) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"event: {name}\ndata: {text}\n\n".encode()


def plugin_event_frame(event: HubEvent) -> bytes:
    if event.name == "complete":
        return plugin_frame("complete", plugin_complete_data(event.payload))
    return plugin_frame(event.name, event.payload)


def sse_response(frames: AsyncIterator[bytes], keepalive_s: float) -> EventSourceResponse:
    return EventSourceResponse(
        frames,
        headers=HEADERS,
        ping=keepalive_s,
        sep=SEP,
        ping_message_factory=lambda: ServerSentEvent(comment="keepalive", sep=SEP),
        send_timeout=SEND_TIMEOUT_S,
    )

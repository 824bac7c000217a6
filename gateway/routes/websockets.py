"""WebSockets: ``/ws`` (commands and their progress) and ``/ws/virtual-machines`` (guest events).

Both authenticate with the first frame ``{"api_key": "..."}`` (close 4001 when
it is missing, wrong or late). ``/ws`` takes the legacy text commands (``Full
Update``, ``Sync Nodes``, ``Sync Virtual Machines``) or ``{"command": ...,
"run_id": "<client correlation id>"}``, starts or joins the run and relays its
events as JSON; the last message of each run is ``{"object": ..., "end": true,
"status": "completed"|"failed", ...}``. ``{"subscribe": <run id>, "last_id":
<stream id>}`` follows an existing run. Disconnecting never cancels a run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from gateway.auth import authenticate_key, client_of
from gateway.hub import Gap, ProgressHub, run_event_source
from gateway.metrics import GatewayMetrics
from gateway.run_desk import RunDesk
from shared.errors import AuthError, ProxboxError, TooManyRequests

logger = logging.getLogger(__name__)

AUTH_TIMEOUT_S = 10.0
SEND_TIMEOUT_S = 30.0
CLOSE_AUTH_FAILED = 4001
MAX_FRAME_CHARS = 4096
RUN_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
#: Legacy command -> (stages, object named in the terminal message).
COMMANDS: dict[str, tuple[list[str] | None, str]] = {
    "Full Update": (None, "full-update"),
    "Full Update Sync": (None, "full-update"),
    "Sync Nodes": (["devices"], "device"),
    "Sync Virtual Machines": (["virtual-machines"], "virtual_machine"),
}
GUEST_TYPES = {"virtual_machine", "vm", "qemu", "lxc", "guest"}


def _settled(relays: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
    """Done-callback: forget the task and read its outcome (a closed socket is expected)."""

    def done(task: asyncio.Task[None]) -> None:
        relays.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.debug("relay ended: %r", task.exception())

    return done


async def _authenticate(websocket: WebSocket) -> bool:
    state = websocket.app.state
    try:
        first = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_S)
        document = json.loads(first) if len(first) <= MAX_FRAME_CHARS else {}
        key = document.get("api_key") if isinstance(document, dict) else None
        await authenticate_key(state.api_keys, state.throttle, client_of(websocket.scope),
                               key if isinstance(key, str) else None)  # fmt: skip
    except (AuthError, TooManyRequests, TimeoutError, ValueError, KeyError) as exc:
        reason = str(exc) if isinstance(exc, ProxboxError) else "API key required as first frame"
        await websocket.close(CLOSE_AUTH_FAILED, reason[:120])
        return False
    return True


async def _send(websocket: WebSocket, message: Any) -> None:
    if isinstance(message, str):
        await asyncio.wait_for(websocket.send_text(message), SEND_TIMEOUT_S)
    else:
        await asyncio.wait_for(websocket.send_json(message), SEND_TIMEOUT_S)


def _legacy_message(name: str, payload: str, correlation: str) -> dict[str, Any]:
    data = json.loads(payload)
    item = data.get("item") if isinstance(data.get("item"), dict) else {}
    return {"object": item.get("item_type") or data.get("phase") or "full-update", "type": name,
            "event": name, "data": data, "run_id": correlation}  # fmt: skip


async def _relay_run(
    websocket: WebSocket, run_id: str, correlation: str, terminal_object: str, after: str | None
) -> None:
    state = websocket.app.state
    async for event in run_event_source(state.hub, state.redis, state.keys, run_id, after):
        if event.name != "complete":
            await _send(websocket, _legacy_message(event.name, event.payload, correlation))
            continue
        data = json.loads(event.payload)
        await _send(websocket, {
            "object": terminal_object, "end": True, "run_id": correlation, "proxbox_run_id": run_id,
            "status": "completed" if data.get("ok") else "failed", "message": data.get("message"),
            "stages": data.get("result") or {}, "errors": data.get("errors") or [],
        })  # fmt: skip
        return


def _parse_command(text: str) -> tuple[str, str | None, str | None] | None:
    """``(command, correlation id, last id)``; ``("subscribe", run id, last id)``; None if invalid."""
    if text.strip() in COMMANDS:
        return text.strip(), None, None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    if "subscribe" in document and RUN_ID.match(str(document["subscribe"])):
        last = document.get("last_id")
        return "subscribe", str(document["subscribe"]), str(last) if last else None
    command, correlation = document.get("command"), document.get("run_id")
    if set(document) != {"command", "run_id"} or command not in COMMANDS:
        return None
    if not isinstance(correlation, str) or not RUN_ID.match(correlation):
        return None
    return command, correlation, None


async def ws_commands(websocket: WebSocket) -> None:
    await websocket.accept()
    if not await _authenticate(websocket):
        return
    desk: RunDesk = websocket.app.state.runs
    metrics: GatewayMetrics = websocket.app.state.metrics
    relays: set[asyncio.Task[None]] = set()
    metrics.open_streams.labels("ws").inc()
    try:
        await _send(websocket, "Connected!")
        while True:
            text = await websocket.receive_text()
            parsed = _parse_command(text) if len(text) <= MAX_FRAME_CHARS else None
            if parsed is None:
                await _send(websocket, f"Invalid sync command: {text[:80]!r}; valid: {', '.join(COMMANDS)}")
                continue
            command, correlation, last = parsed
            if command == "subscribe":
                assert correlation is not None
                task = asyncio.create_task(_relay_run(websocket, correlation, correlation, "run", last))
            else:
                stages, terminal = COMMANDS[command]
                try:
                    started = await desk.call(desk.start_run, None, stages)
                except ProxboxError as exc:
                    await _send(websocket, {"error": str(exc), "run_id": correlation, "end": True,
                                            "status": "failed", "object": terminal})  # fmt: skip
                    continue
                tag = correlation or started.run_id
                await _send(websocket, {"object": terminal, "status": "started", "run_id": tag,
                                        "proxbox_run_id": started.run_id, "joined": started.joined})  # fmt: skip
                task = asyncio.create_task(_relay_run(websocket, started.run_id, tag, terminal, None))
            relays.add(task)
            task.add_done_callback(_settled(relays))
    except (WebSocketDisconnect, RuntimeError, TimeoutError):
        pass  # the client went away; its runs go on
    finally:
        metrics.open_streams.labels("ws").dec()
        for task in list(relays):
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)


async def _relay_guest_events(websocket: WebSocket) -> None:
    hub: ProgressHub = websocket.app.state.hub
    subscription = hub.subscribe(None)
    try:
        while True:
            try:
                event = await subscription.get()
            except Gap:  # no replay across every run: say so and carry on live
                hub.unsubscribe(subscription)
                subscription = hub.subscribe(None)
                await _send(websocket, {"warning": "some events were skipped (slow connection)"})
                continue
            if event.name != "item_progress":
                continue
            data = json.loads(event.payload)
            item = data.get("item") or {}
            if str(item.get("item_type", "")).lower() in GUEST_TYPES:
                await _send(websocket, {"object": "virtual_machine", "type": data.get("operation"),
                                        "data": data, "run_id": event.run_id})  # fmt: skip
    finally:
        hub.unsubscribe(subscription)


async def ws_virtual_machines(websocket: WebSocket) -> None:
    await websocket.accept()
    if not await _authenticate(websocket):
        return
    metrics: GatewayMetrics = websocket.app.state.metrics
    metrics.open_streams.labels("ws").inc()
    relay = asyncio.create_task(_relay_guest_events(websocket))
    try:
        await _send(websocket, "Connected!")
        while True:  # reading notices a disconnect at once; client frames are ignored
            await websocket.receive_text()
    except (WebSocketDisconnect, RuntimeError, TimeoutError):
        pass
    finally:
        metrics.open_streams.labels("ws").dec()
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)


routes: list[BaseRoute] = [
    WebSocketRoute("/ws", ws_commands),
    WebSocketRoute("/ws/virtual-machines", ws_virtual_machines),
]

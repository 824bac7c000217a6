"""Events in: ``POST /events/proxmox`` (hookscripts, notification webhooks) and hook secrets."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.auth import HEADER, authenticate_key, client_of
from gateway.bodies import path_int, read_body
from gateway.intake import (
    Outcome,
    already_queued,
    dispatch,
    new_hook_secret,
    notification_guests,
    parse_event,
    verify_hook_auth,
)
from gateway.run_desk import RunDesk
from shared.db.models import ProxmoxEndpoint
from shared.errors import NotFound, PayloadTooLarge, ValidationFailed
from shared.hooks import MAX_BODY_BYTES, HookEvent


async def proxmox_event(request: Request) -> Response:
    """202 when the event is genuine and valid; the sync it asks for is queued, never run here."""
    state = request.app.state
    body = await read_body(request)
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"an event body is at most {MAX_BODY_BYTES} bytes")
    api_key = request.headers.get(HEADER)
    if api_key is not None:
        await authenticate_key(state.api_keys, state.throttle, client_of(request.scope), api_key)
    event = parse_event(body)
    ref = event.endpoint if isinstance(event, HookEvent) else request.query_params.get("endpoint")
    if not ref and not isinstance(event, HookEvent):
        raise ValidationFailed("endpoint: name the endpoint in the query (?endpoint=<name or id>)")
    endpoint = await run_in_threadpool(state.endpoint_lookup, ref)
    if api_key is None:
        await verify_hook_auth(
            endpoint, request.headers, body, state.secrets, state.redis, state.keys
        )
    if endpoint is None:
        raise NotFound(f"Proxmox endpoint {ref!r} does not exist")
    desk: RunDesk = state.runs
    holder = (
        await already_queued(state.redis, state.keys, endpoint.id, event)
        if isinstance(event, HookEvent)
        else None
    )
    if holder is not None:
        outcome = Outcome("guest_sync", holder, coalesced=True)
    else:
        vmids = [] if isinstance(event, HookEvent) else \
            await notification_guests(state.sessions, state.secrets, endpoint, event)  # fmt: skip
        outcome = await desk.call(dispatch, desk, endpoint, event, vmids)
    return JSONResponse(
        {"accepted": True, "action": outcome.action, "run_id": outcome.run_id,
         "run_ids": outcome.run_ids or ([outcome.run_id] if outcome.run_id else []),
         "coalesced": outcome.coalesced, "detail": outcome.detail},
        status_code=202,
    )  # fmt: skip


def _set_hook_secret(request: Request, secret: str | None) -> ProxmoxEndpoint:
    endpoint_id = path_int(request, "endpoint_id")
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions.begin() as session:
        endpoint = session.get(ProxmoxEndpoint, endpoint_id)
        if endpoint is None:
            raise NotFound(f"Proxmox endpoint {endpoint_id} does not exist")
        endpoint.hook_secret_enc = request.app.state.secrets.encrypt(secret) if secret else None
    request.app.state.endpoint_lookup.forget()
    return endpoint


async def create_hook_secret(request: Request) -> Response:
    """A new hook secret for an endpoint, shown this once (it replaces any previous one)."""
    secret = new_hook_secret()
    endpoint = _set_hook_secret(request, secret)
    return JSONResponse(
        {"endpoint_id": endpoint.id, "endpoint": endpoint.name, "hook_secret": secret,
         "detail": "store it in proxbox-hook.conf as PROXBOX_SECRET; it is not shown again"},
        status_code=201,
    )  # fmt: skip


async def delete_hook_secret(request: Request) -> Response:
    """Turn hook events off for an endpoint."""
    _set_hook_secret(request, None)
    return Response(status_code=204)


routes: list[BaseRoute] = [
    Route("/events/proxmox", proxmox_event, methods=["POST"]),
    Route("/proxmox/endpoints/{endpoint_id}/hook-secret", create_hook_secret, methods=["POST"]),
    Route("/proxmox/endpoints/{endpoint_id}/hook-secret", delete_hook_secret, methods=["DELETE"]),
]

"""``/netbox/endpoint``: the one NetBox the workers write to (a singleton), and its live status."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.bodies import path_int, read_model
from gateway.peers import netbox_status
from gateway.schemas import NetBoxEndpointPatch
from shared.crypto import SecretBox
from shared.db.models import NetBoxEndpoint, TokenVersion
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.schemas import NetBoxEndpointIn, NetBoxEndpointOut


def netbox_out(row: NetBoxEndpoint) -> NetBoxEndpointOut:
    return NetBoxEndpointOut(
        id=row.id, name=row.name, ip_address=row.ip_address, domain=row.domain, port=row.port,
        token_version=row.token_version, verify_ssl=row.verify_ssl, enabled=row.enabled,
        url=row.url,
    )  # fmt: skip


def _state(request: Request) -> tuple[sessionmaker[Session], SecretBox]:
    return request.app.state.sessions, request.app.state.secrets


def _name_taken(exc: IntegrityError) -> Conflict:
    return Conflict(f"a NetBox endpoint with that name exists already ({type(exc.orig).__name__})")


def _create(sessions: sessionmaker[Session], box: SecretBox, body: NetBoxEndpointIn) -> NetBoxEndpoint:
    row = NetBoxEndpoint(
        name=body.name, ip_address=body.ip_address, domain=body.domain, port=body.port,
        token_version=body.token_version, verify_ssl=body.verify_ssl, enabled=body.enabled,
        token_enc=box.encrypt(body.token.get_secret_value()),
        token_key_enc=box.encrypt(body.token_key) if body.token_key else None,
    )  # fmt: skip
    try:
        with sessions.begin() as session:
            if session.scalar(select(NetBoxEndpoint.id).limit(1)) is not None:
                raise Conflict(
                    "only one NetBox endpoint is allowed; update it with PUT /netbox/endpoint/{id}"
                )
            session.add(row)
    except IntegrityError as exc:
        raise _name_taken(exc) from None
    return row


def _update(
    sessions: sessionmaker[Session], box: SecretBox, endpoint_id: int, patch: NetBoxEndpointPatch
) -> NetBoxEndpoint:
    changes = patch.model_dump(exclude_unset=True, exclude={"token", "token_key"})
    if "name" in changes and changes["name"] is None:
        raise ValidationFailed("name: may not be null")
    try:
        with sessions.begin() as session:
            row = session.get(NetBoxEndpoint, endpoint_id)
            if row is None:
                raise NotFound(f"NetBox endpoint {endpoint_id} does not exist")
            for field, value in changes.items():
                if value is None and field not in {"domain"}:
                    continue  # null means "leave as is" for required fields
                setattr(row, field, value)
            if patch.token is not None:
                row.token_enc = box.encrypt(patch.token.get_secret_value())
            if patch.token_key is not None:
                row.token_key_enc = box.encrypt(patch.token_key)
            if row.token_version is TokenVersion.V1:
                row.token_key_enc = None
            elif row.token_key_enc is None:
                raise ValidationFailed("token_key: required when token_version is 'v2'")
    except IntegrityError as exc:
        raise _name_taken(exc) from None
    return row


def _get(sessions: sessionmaker[Session], endpoint_id: int) -> NetBoxEndpoint:
    with sessions() as session:
        row = session.get(NetBoxEndpoint, endpoint_id)
    if row is None:
        raise NotFound(f"NetBox endpoint {endpoint_id} does not exist")
    return row


def _list(sessions: sessionmaker[Session]) -> list[NetBoxEndpoint]:
    with sessions() as session:
        return list(session.scalars(select(NetBoxEndpoint).order_by(NetBoxEndpoint.id)))


def _delete(sessions: sessionmaker[Session], endpoint_id: int) -> None:
    with sessions.begin() as session:
        row = session.get(NetBoxEndpoint, endpoint_id)
        if row is None:
            raise NotFound(f"NetBox endpoint {endpoint_id} does not exist")
        session.delete(row)


async def list_endpoints(request: Request) -> Response:
    sessions, _ = _state(request)
    rows = await run_in_threadpool(_list, sessions)
    return JSONResponse([netbox_out(row).model_dump(mode="json") for row in rows])


async def create_endpoint(request: Request) -> Response:
    body = await read_model(request, NetBoxEndpointIn)
    sessions, box = _state(request)
    row = await run_in_threadpool(_create, sessions, box, body)
    return JSONResponse(netbox_out(row).model_dump(mode="json"), status_code=201)


async def get_endpoint(request: Request) -> Response:
    sessions, _ = _state(request)
    row = await run_in_threadpool(_get, sessions, path_int(request, "endpoint_id"))
    return JSONResponse(netbox_out(row).model_dump(mode="json"))


async def update_endpoint(request: Request) -> Response:
    endpoint_id = path_int(request, "endpoint_id")
    patch = await read_model(request, NetBoxEndpointPatch)
    sessions, box = _state(request)
    row = await run_in_threadpool(_update, sessions, box, endpoint_id, patch)
    return JSONResponse(netbox_out(row).model_dump(mode="json"))


async def delete_endpoint(request: Request) -> Response:
    sessions, _ = _state(request)
    await run_in_threadpool(_delete, sessions, path_int(request, "endpoint_id"))
    return Response(status_code=204)


async def status(request: Request) -> Response:
    """NetBox's ``/api/status/`` through the stored endpoint (502 when it does not answer 200)."""
    sessions, box = _state(request)
    rows = await run_in_threadpool(_list, sessions)
    if not rows:
        raise NotFound("no NetBox endpoint is configured; POST /netbox/endpoint first")
    result = await netbox_status(rows[0], box)
    return JSONResponse(result, status_code=200 if result["ok"] else 502)


routes: list[BaseRoute] = [
    Route("/netbox/endpoint", list_endpoints, methods=["GET"]),
    Route("/netbox/endpoint", create_endpoint, methods=["POST"]),
    Route("/netbox/endpoint/{endpoint_id}", get_endpoint, methods=["GET"]),
    Route("/netbox/endpoint/{endpoint_id}", update_endpoint, methods=["PUT"]),
    Route("/netbox/endpoint/{endpoint_id}", delete_endpoint, methods=["DELETE"]),
    Route("/netbox/status", status, methods=["GET"]),
]

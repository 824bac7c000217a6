"""``/proxmox/endpoints``: the Proxmox VE clusters to sync, and ``/proxmox/version`` live checks."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.bodies import path_int, query_id_list, read_model
from gateway.peers import proxmox_version
from gateway.schemas import ProxmoxEndpointPatch
from shared.crypto import SecretBox
from shared.db.models import ProxmoxEndpoint
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.schemas import ProxmoxEndpointIn, ProxmoxEndpointOut

#: Columns a PUT may set directly (secrets and write-only plugin fields are handled apart).
_PLAIN_FIELDS = (
    "name", "ip_address", "domain", "port", "username", "verify_ssl", "allow_writes", "timeout",
    "max_retries", "enabled", "site_slug", "retry_backoff", "access_methods",
)  # fmt: skip
_NULLABLE = {"domain", "site_slug"}


def proxmox_out(row: ProxmoxEndpoint) -> ProxmoxEndpointOut:
    return ProxmoxEndpointOut(
        id=row.id, name=row.name, ip_address=row.ip_address, domain=row.domain, port=row.port,
        username=row.username, token_name=row.token_name,
        auth_method="token" if row.uses_token else "password",
        verify_ssl=row.verify_ssl, allow_writes=row.allow_writes, timeout=row.timeout,
        max_retries=row.max_retries, enabled=row.enabled, site_slug=row.site_slug,
        retry_backoff=row.retry_backoff, access_methods=row.access_methods,
        allow_packer_template_builds=False,
    )  # fmt: skip


def _name_taken(exc: IntegrityError) -> Conflict:
    return Conflict(f"a Proxmox endpoint with that name exists already ({type(exc.orig).__name__})")


def _create(sessions: sessionmaker[Session], box: SecretBox, body: ProxmoxEndpointIn) -> ProxmoxEndpoint:
    password = body.password.get_secret_value() if body.password else ""
    token_value = body.token_value.get_secret_value() if body.token_value else ""
    row = ProxmoxEndpoint(
        **body.model_dump(include=set(_PLAIN_FIELDS)),
        password_enc=box.encrypt(password) if password else None,
        token_name=body.token_name if token_value else None,
        token_value_enc=box.encrypt(token_value) if token_value else None,
    )
    try:
        with sessions.begin() as session:
            session.add(row)
    except IntegrityError as exc:
        raise _name_taken(exc) from None
    return row


def _apply_patch(row: ProxmoxEndpoint, box: SecretBox, patch: ProxmoxEndpointPatch) -> None:
    changes = patch.model_dump(exclude_unset=True, include=set(_PLAIN_FIELDS))
    for field, value in changes.items():
        if value is None and field not in _NULLABLE:
            continue  # null means "leave as is" for required fields
        setattr(row, field, value)
    if patch.password is not None:
        secret = patch.password.get_secret_value()
        row.password_enc = box.encrypt(secret) if secret else None
    if "token_name" in patch.model_fields_set:
        row.token_name = patch.token_name or None
    if patch.token_value is not None:
        secret = patch.token_value.get_secret_value()
        row.token_value_enc = box.encrypt(secret) if secret else None
    if row.token_name is None:
        row.token_value_enc = None
    if row.password_enc is None and not (row.token_name and row.token_value_enc):
        raise ValidationFailed("give either a password or a token pair (token_name and token_value)")


def _update(
    sessions: sessionmaker[Session], box: SecretBox, endpoint_id: int, patch: ProxmoxEndpointPatch
) -> ProxmoxEndpoint:
    try:
        with sessions.begin() as session:
            row = session.get(ProxmoxEndpoint, endpoint_id)
            if row is None:
                raise NotFound(f"Proxmox endpoint {endpoint_id} does not exist")
            _apply_patch(row, box, patch)
    except IntegrityError as exc:
        raise _name_taken(exc) from None
    return row


def _get(sessions: sessionmaker[Session], endpoint_id: int) -> ProxmoxEndpoint:
    with sessions() as session:
        row = session.get(ProxmoxEndpoint, endpoint_id)
    if row is None:
        raise NotFound(f"Proxmox endpoint {endpoint_id} does not exist")
    return row


def _list(sessions: sessionmaker[Session], ids: list[int] | None = None) -> list[ProxmoxEndpoint]:
    query = select(ProxmoxEndpoint).order_by(ProxmoxEndpoint.id)
    if ids is not None:
        query = query.where(ProxmoxEndpoint.id.in_(ids))
    with sessions() as session:
        return list(session.scalars(query))


def _delete(sessions: sessionmaker[Session], endpoint_id: int) -> None:
    with sessions.begin() as session:
        row = session.get(ProxmoxEndpoint, endpoint_id)
        if row is None:
            raise NotFound(f"Proxmox endpoint {endpoint_id} does not exist")
        session.delete(row)


def _dump(row: ProxmoxEndpoint) -> dict[str, object]:
    return proxmox_out(row).model_dump(mode="json")


async def list_endpoints(request: Request) -> Response:
    rows = await run_in_threadpool(_list, request.app.state.sessions)
    return JSONResponse([_dump(row) for row in rows])


async def create_endpoint(request: Request) -> Response:
    body = await read_model(request, ProxmoxEndpointIn)
    state = request.app.state
    row = await run_in_threadpool(_create, state.sessions, state.secrets, body)
    return JSONResponse(_dump(row), status_code=201)


async def get_endpoint(request: Request) -> Response:
    row = await run_in_threadpool(_get, request.app.state.sessions, path_int(request, "endpoint_id"))
    return JSONResponse(_dump(row))


async def update_endpoint(request: Request) -> Response:
    endpoint_id = path_int(request, "endpoint_id")
    patch = await read_model(request, ProxmoxEndpointPatch)
    state = request.app.state
    row = await run_in_threadpool(_update, state.sessions, state.secrets, endpoint_id, patch)
    return JSONResponse(_dump(row))


async def delete_endpoint(request: Request) -> Response:
    await run_in_threadpool(_delete, request.app.state.sessions, path_int(request, "endpoint_id"))
    return Response(status_code=204)


async def version(request: Request) -> Response:
    """``/version`` of each selected endpoint (``proxmox_endpoint_ids``/``endpoint_ids``; default all enabled)."""
    ids = query_id_list(request, "proxmox_endpoint_ids", "endpoint_ids")
    rows = await run_in_threadpool(_list, request.app.state.sessions, ids)
    if ids is None:
        rows = [row for row in rows if row.enabled]
    if ids is not None and len(rows) != len(ids):
        missing = sorted(set(ids) - {row.id for row in rows})
        raise NotFound(f"Proxmox endpoint(s) {missing} do not exist")
    box = request.app.state.secrets
    results = await asyncio.gather(*(proxmox_version(row, box) for row in rows))
    failed = [result for result in results if not result["ok"]]
    return JSONResponse(list(results), status_code=502 if failed and len(failed) == len(results) else 200)


routes: list[BaseRoute] = [
    Route("/proxmox/endpoints", list_endpoints, methods=["GET"]),
    Route("/proxmox/endpoints", create_endpoint, methods=["POST"]),
    Route("/proxmox/endpoints/{endpoint_id}", get_endpoint, methods=["GET"]),
    Route("/proxmox/endpoints/{endpoint_id}", update_endpoint, methods=["PUT"]),
    Route("/proxmox/endpoints/{endpoint_id}", delete_endpoint, methods=["DELETE"]),
    Route("/proxmox/version", version, methods=["GET"]),
]

"""``/auth``: bootstrap the first key, then list, create and revoke keys."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.apikey_store import ApiKeyStore
from gateway.bodies import path_int, read_model
from gateway.schemas import (
    ApiKeyCreatedOut,
    ApiKeyOut,
    ApiKeysOut,
    BootstrapStatusOut,
    CreateKeyIn,
    RegisterKeyIn,
)
from shared.db.models import ApiKey


def key_out(row: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=row.id,
        label=row.label,
        is_active=row.is_active,
        created_at=row.created_at.timestamp(),
        revoked_at=row.revoked_at.timestamp() if row.revoked_at else None,
        lookup=row.lookup,
    )


def _store(request: Request) -> ApiKeyStore:
    store: ApiKeyStore = request.app.state.api_keys
    return store


async def bootstrap_status(request: Request) -> Response:
    needs, has_keys = await run_in_threadpool(_store(request).bootstrap_status)
    return JSONResponse(
        BootstrapStatusOut(needs_bootstrap=needs, has_db_keys=has_keys).model_dump()
    )


async def register_key(request: Request) -> Response:
    """201 for the very first key ever registered; 409 for every later attempt."""
    body = await read_model(request, RegisterKeyIn)
    label = body.label or "netbox-proxbox-plugin"
    await run_in_threadpool(_store(request).register_first, body.api_key.get_secret_value(), label)
    return JSONResponse({"detail": "API key registered."}, status_code=201)


async def list_keys(request: Request) -> Response:
    rows = await run_in_threadpool(_store(request).list)
    return JSONResponse(ApiKeysOut(keys=[key_out(row) for row in rows]).model_dump())


async def create_key(request: Request) -> Response:
    body = await read_model(request, CreateKeyIn, empty_ok=True)
    row, raw_key = await run_in_threadpool(_store(request).create, body.label)
    created = ApiKeyCreatedOut(**key_out(row).model_dump(), raw_key=raw_key)
    return JSONResponse(created.model_dump(), status_code=201)


async def revoke_key(request: Request) -> Response:
    row = await run_in_threadpool(_store(request).revoke, path_int(request, "key_id"))
    return JSONResponse(key_out(row).model_dump())


routes: list[BaseRoute] = [
    Route("/auth/bootstrap-status", bootstrap_status, methods=["GET"]),
    Route("/auth/register-key", register_key, methods=["POST"]),
    Route("/auth/keys", list_keys, methods=["GET"]),
    Route("/auth/keys", create_key, methods=["POST"]),
    Route("/auth/keys/{key_id}", revoke_key, methods=["DELETE"]),
    Route("/auth/keys/{key_id}/revoke", revoke_key, methods=["POST"]),
]

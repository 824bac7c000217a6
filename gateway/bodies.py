"""Reading request input: bounded JSON bodies into pydantic models, typed query and path values."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from starlette.requests import Request

from shared.errors import PayloadTooLarge, ValidationFailed
from shared.settings import Settings

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request) -> bytes:
    """The body, refused with 413 past ``PROXBOX_MAX_BODY_BYTES`` (checked while it streams in)."""
    settings: Settings = request.app.state.settings
    limit = settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_model(request: Request, model: type[M], *, empty_ok: bool = False) -> M:
    """Validate the JSON body into ``model``; ValidationError becomes 422 naming the field."""
    body = await read_body(request)
    if not body.strip():
        if empty_ok:
            return model()
        raise ValidationFailed("body: a JSON object is required")
    return model.model_validate_json(body)


def path_int(request: Request, name: str) -> int:
    raw = request.path_params[name]
    if isinstance(raw, int):
        return raw
    if not str(raw).isdigit() or len(str(raw)) > 18:
        raise ValidationFailed(f"{name}: must be a positive integer")
    return int(raw)


def query_int(
    request: Request, name: str, default: int, *, minimum: int = 0, maximum: int = 10_000
) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.lstrip("-").isdigit() or len(raw) > 18:
        raise ValidationFailed(f"{name}: must be an integer")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise ValidationFailed(f"{name}: must be between {minimum} and {maximum}")
    return value


def query_id_list(request: Request, *names: str) -> list[int] | None:
    """Comma-separated positive ids (e.g. the plugin's ``proxmox_endpoint_ids=3,4``); first name wins."""
    for name in names:
        raw = request.query_params.get(name)
        if raw is None or not raw.strip():
            continue
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        if len(parts) > 1000 or not all(part.isdigit() and len(part) < 19 for part in parts):
            raise ValidationFailed(f"{name}: must be a comma-separated list of positive integers")
        ids = sorted({int(part) for part in parts})
        if 0 in ids:
            raise ValidationFailed(f"{name}: ids start at 1")
        return ids
    return None

"""Request parameters the way PVE's JSON-schema validator treats them."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from .envelope import PveError, param_error

SNAPNAME_RE = re.compile(r"^[a-z][a-z0-9_-]+$", re.IGNORECASE)
MAX_BODY = 512 * 1024


async def read_params(request: Request) -> dict[str, Any]:
    """Query string merged with a form or JSON body (POST/PUT); repeated keys become lists."""
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        _merge(params, key, value)
    body = await request.body()
    if not body:
        return params
    if request.method in ("GET", "DELETE", "HEAD"):
        raise PveError(501, f"Unexpected content for method '{request.method}'")
    if len(body) > MAX_BODY:
        raise PveError(501, "for data too large")
    if request.headers.get("content-type", "").startswith("application/json"):
        decoded = json.loads(body)
        if isinstance(decoded, dict):
            for key, value in decoded.items():
                # JSON true/false are fine for PVE; it sees them as 1/0.
                params[key] = int(value) if isinstance(value, bool) else value
        return params
    for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
        _merge(params, key, value)
    return params


def _merge(params: dict[str, Any], key: str, value: str) -> None:
    if key in params:
        existing = params[key]
        params[key] = (existing if isinstance(existing, list) else [existing]) + [value]
    else:
        params[key] = value


def boolean(params: dict[str, Any], name: str, default: bool = False) -> bool:
    """Only "1"/"0" pass: Python's `True` arrives as the string "True" and is rejected."""
    if name not in params:
        return default
    value = str(params[name])
    if value not in ("0", "1"):
        raise param_error({name: f"type check ('boolean') failed - got '{value}'"})
    return value == "1"


def integer(params: dict[str, Any], name: str, default: int | None = None,
            minimum: int | None = None) -> int | None:
    if name not in params:
        return default
    value = str(params[name])
    if not re.fullmatch(r"[+-]?\d+", value):
        raise param_error({name: f"type check ('integer') failed - got '{value}'"})
    number = int(value)
    if minimum is not None and number < minimum:
        raise param_error({name: f"value must have a minimum value of {minimum}"})
    return number


def required(params: dict[str, Any], name: str) -> str:
    if name not in params or params[name] in (None, ""):
        raise param_error({name: "property is missing and it is not optional"})
    return str(params[name])


def enum(params: dict[str, Any], name: str, allowed: list[str]) -> str | None:
    if name not in params:
        return None
    value = str(params[name])
    if value not in allowed:
        raise param_error(
            {name: f"value '{value}' does not have a value in the enumeration '{', '.join(allowed)}'"}
        )
    return value


def snapname(value: str, name: str = "snapname") -> str:
    if len(value) > 40 or not SNAPNAME_RE.match(value) or value in ("current", "pending"):
        raise param_error({name: f"invalid configuration ID '{value}'"})
    return value

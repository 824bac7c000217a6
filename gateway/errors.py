"""JSON errors everywhere: every failure answers ``{"detail": ...}`` with a 4xx/5xx.

The netbox-proxbox plugin reads ``detail``; 401 details mention "API key" so
the plugin knows to re-check its key.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ExceptionHandler

from shared.errors import (
    AuthError,
    Conflict,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    UpstreamError,
    ValidationFailed,
)

logger = logging.getLogger(__name__)

#: Our error classes and the status each becomes at the HTTP edge.
STATUS_OF: dict[type[Exception], int] = {
    PayloadTooLarge: 413,
    TooManyRequests: 429,
    ValidationFailed: 422,
    NotFound: 404,
    Conflict: 409,
    AuthError: 401,
    ServiceUnavailable: 503,
    UpstreamError: 502,
}


def error_response(
    status: int, detail: object, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return error_response(exc.status_code, exc.detail, dict(exc.headers or {}))


def status_and_headers(exc: Exception) -> tuple[int, dict[str, str]] | None:
    """The HTTP status (and headers) our error class maps to; None for a foreign error."""
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            headers: dict[str, str] = {}
            if isinstance(exc, TooManyRequests):
                headers["Retry-After"] = str(exc.retry_after)
            elif isinstance(exc, ServiceUnavailable):
                headers["Retry-After"] = "5"
            return STATUS_OF[cls], headers
    return None


async def proxbox_error(request: Request, exc: Exception) -> Response:
    mapped = status_and_headers(exc)
    if mapped is None:
        return await unexpected_error(request, exc)
    status, headers = mapped
    return error_response(status, str(exc), headers or None)


def describe_validation_error(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic errors without the offending input (which may be a secret)."""
    return [
        {"field": ".".join(str(part) for part in error["loc"]) or "body", "error": error["msg"]}
        for error in exc.errors(include_input=False, include_url=False)
    ]


async def pydantic_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    return error_response(422, describe_validation_error(exc))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    # Log the traceback on our side; the client gets a JSON body, never a traceback.
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error; see the gateway log")


def exception_handlers() -> dict[int | type[Exception], ExceptionHandler]:
    handlers: dict[int | type[Exception], ExceptionHandler] = {HTTPException: http_exception}
    for cls in STATUS_OF:
        handlers[cls] = proxbox_error
    handlers[ValidationError] = pydantic_error
    handlers[Exception] = unexpected_error
    return handlers

"""The PVE JSON envelope, response headers and the error shapes of pve-http-server.

* success: `{"data": ...}` (plus `total` where PVE sets it);
* errors: the message is the HTTP reason phrase; from PVE 8.4 on it is repeated
  in the body as `message` (with its trailing newline), 400 adds `errors`;
* authentication failures and proxy errors (401, 595, 596) have an empty body;
* every status >= 400 closes the connection.
"""

from __future__ import annotations

import gzip
import json
from email.utils import formatdate
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .reason_phrase import REASON_HEADER

try:  # 5-10x faster than json.dumps; the `test` extra installs it
    import orjson
except ImportError:  # pragma: no cover - plain json gives the same bytes, only slower
    orjson = None  # type: ignore[assignment]

JSON_TYPE = "application/json;charset=UTF-8"
GZIP_MIN = 1024  # pveproxy compresses bodies above 1 KiB when the client allows it


class PveError(Exception):
    """Raised by handlers; rendered like pve-http-server renders a `die`."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None,
                 empty_body: bool | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        # Auth-stage failures and proxy errors have no body; handler errors do.
        self.empty_body = status in (401, 595, 596) if empty_body is None else empty_body


def param_error(errors: dict[str, str]) -> PveError:
    return PveError(400, "Parameter verification failed.", errors)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON. orjson writes the same bytes as `json.dumps` here, except that
    floats below 1e-4 print as `0.00001` rather than `1e-05` (the same number)."""
    if orjson is not None:
        try:
            return orjson.dumps(value)
        except TypeError:  # non-str keys, ints over 64 bits: let json handle them
            pass
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def base_headers() -> dict[str, str]:
    return {
        "server": "pve-api-daemon/3.0",
        "cache-control": "max-age=0",
        "pragma": "no-cache",
        "expires": formatdate(usegmt=True),
    }


def accepts_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "")


def body_response(body: bytes, request: Request, gz: bytes | None = None) -> Response:
    """A 200 JSON answer from pre-serialised bytes (gzip copy optional, else made here)."""
    headers = base_headers()
    if len(body) > GZIP_MIN and accepts_gzip(request):
        body = gz if gz is not None else gzip.compress(body, compresslevel=1)
        headers["content-encoding"] = "gzip"
    return Response(body, status_code=200, headers=headers, media_type=JSON_TYPE)


def ok(request: Request, data: Any, **extra: Any) -> Response:
    envelope = {"data": data, **extra}
    return body_response(dumps(envelope), request)


def error_response(err: PveError, with_message: bool) -> Response:
    """`with_message`: PVE >= 8.4 (libpve-http-server-perl 5.2.0) repeats it in the body."""
    headers = base_headers()
    headers["connection"] = "close"
    reason = err.message.splitlines()[0] if err.message else ""
    # Starlette writes header values as latin-1; this round-trips the UTF-8 bytes intact.
    headers[REASON_HEADER] = reason.encode("utf-8").decode("latin-1")
    if err.empty_body:
        return Response(b"", status_code=err.status, headers=headers)
    body: dict[str, Any] = {"data": None}
    if with_message:
        body["message"] = err.message if err.message.endswith("\n") else err.message + "\n"
    if err.errors:
        body["errors"] = err.errors
    return Response(dumps(body), status_code=err.status, headers=headers, media_type=JSON_TYPE)

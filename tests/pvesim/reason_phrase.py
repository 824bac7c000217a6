"""Custom HTTP reason phrases under uvicorn.

PVE puts its error text in the status line (`HTTP/1.1 500 VM 100 not running`),
and clients (proxmoxer's `ResourceException.content`) read it from there. ASGI
has no field for a reason phrase and uvicorn's h11 protocol looks it up in a
module-level table keyed by status code. We replace that table with a mapping
that first consults a context variable; the ASGI wrapper below sets the variable
from a private response header right before uvicorn writes the status line
(same task, same context), and strips the header. Servers that never set the
variable get the standard phrases, so other apps in the same process are
unaffected. `test_pvesim_wire.py` pins this behaviour against uvicorn upgrades.
"""

from __future__ import annotations

import contextvars
import http
from collections.abc import Iterator, Mapping
from typing import Any

from uvicorn.protocols.http import h11_impl

REASON_HEADER = "x-pvesim-reason"
_REASON_HEADER_BYTES = REASON_HEADER.encode()
_current_reason: contextvars.ContextVar[bytes | None] = contextvars.ContextVar(
    "pvesim_reason", default=None
)


def _standard_phrase(status: int) -> bytes:
    try:
        return http.HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


class _ReasonTable(Mapping[int, bytes]):
    def __getitem__(self, status: int) -> bytes:
        reason = _current_reason.get()
        if reason is not None:
            return reason
        return _standard_phrase(status)

    def __iter__(self) -> Iterator[int]:
        return iter(range(100, 600))

    def __len__(self) -> int:
        return 500


def install() -> None:
    """Idempotently route uvicorn's (h11) status-line phrases through the context variable."""
    if not isinstance(h11_impl.STATUS_PHRASES, _ReasonTable):
        h11_impl.STATUS_PHRASES = _ReasonTable()  # type: ignore[assignment]


def sanitize(reason: str) -> bytes:
    """Status lines cannot carry CR/LF; PVE sends the first line of the error."""
    line = reason.replace("\r", " ").replace("\n", " ").strip()
    return line.encode("utf-8")


class ReasonPhraseMiddleware:
    """Pure ASGI: turns the private header into the status line's reason phrase."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_reason(message: dict[str, Any]) -> None:
            if message["type"] != "http.response.start":
                await send(message)
                return
            reason: bytes | None = None
            headers = []
            for name, value in message.get("headers", []):
                if name.lower() == _REASON_HEADER_BYTES:
                    reason = sanitize(value.decode("utf-8", "replace"))
                else:
                    headers.append((name, value))
            message = {**message, "headers": headers}
            token = _current_reason.set(reason)
            try:
                await send(message)
            finally:
                _current_reason.reset(token)

        await self.app(scope, receive, send_with_reason)

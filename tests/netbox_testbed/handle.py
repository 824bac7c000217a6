"""What the pytest fixtures hand to a test: where NetBox is, its tokens and client builders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import httpx

from .settings import TestbedSettings
from .testbed import reset

if TYPE_CHECKING:
    import pynetbox

TokenVersion = Literal[1, 2]


@dataclass
class NetBoxHandle:
    """A running test-bed NetBox. Clients built here are closed when the fixture ends."""

    url: str
    token_v1: str
    token_v2: str
    settings: TestbedSettings
    _closers: list[httpx.Client | object] = field(default_factory=list, repr=False)

    def token(self, version: TokenVersion = 2) -> str:
        return self.token_v1 if version == 1 else self.token_v2

    def auth_header(self, version: TokenVersion = 2) -> dict[str, str]:
        """``Token <v1>`` or ``Bearer nbt_<key>.<secret>``."""
        if version == 1:
            return {"Authorization": f"Token {self.token_v1}"}
        return {"Authorization": f"Bearer {self.token_v2}"}

    def client(self, version: TokenVersion = 2, timeout: float = 60.0) -> httpx.Client:
        """An httpx client with base URL ``<url>/api`` and the chosen token."""
        client = httpx.Client(
            base_url=f"{self.url}/api",
            headers={**self.auth_header(version), "Accept": "application/json"},
            timeout=timeout,
        )
        self._closers.append(client)
        return client

    def api(self, version: TokenVersion = 2) -> pynetbox.api:
        """A pynetbox API object (pynetbox sends Bearer for the ``nbt_`` v2 token)."""
        import pynetbox

        nb = pynetbox.api(self.url, token=self.token(version))
        self._closers.append(nb.http_session)
        return nb

    def reset(self) -> float:
        """A clean database again (seconds taken); gunicorn keeps running."""
        return reset(self.settings)

    def close_clients(self) -> None:
        while self._closers:
            closer = self._closers.pop()
            close = getattr(closer, "close", None)
            if callable(close):
                close()

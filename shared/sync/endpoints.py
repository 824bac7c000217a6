"""Endpoint rows -> connection facts with secrets in clear, through ONE decrypt function.

:func:`reveal` is the only place the sync engine turns a ``*_enc`` column into a
secret (``shared.crypto.SecretBox``); tests store rows through :func:`seal`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.crypto import SecretBox
from shared.db.models import NetBoxEndpoint, ProxmoxEndpoint, TokenVersion
from shared.errors import NotFound
from shared.proxmox.client import ProxmoxCredentials
from shared.settings import Settings


@functools.cache
def _box(settings: Settings) -> SecretBox:
    return SecretBox.from_settings(settings)


def reveal(settings: Settings, stored: str | None) -> str | None:
    """The plaintext of an encrypted column (None stays None)."""
    return None if stored is None else _box(settings).decrypt(stored)


def seal(settings: Settings, plaintext: str | None) -> str | None:
    """Encrypt for a ``*_enc`` column (what the gateway does when an endpoint is saved)."""
    return None if plaintext is None else _box(settings).encrypt(plaintext)


@dataclass(frozen=True)
class NetBoxConnection:
    endpoint_id: int
    url: str
    token: str
    token_version: TokenVersion
    verify_ssl: bool

    def __repr__(self) -> str:
        return f"NetBoxConnection(endpoint_id={self.endpoint_id}, url={self.url!r})"

    @property
    def authorization(self) -> str:
        return f"Bearer {self.token}" if self.token_version == TokenVersion.V2 else f"Token {self.token}"


def proxmox_credentials(
    settings: Settings, row: ProxmoxEndpoint
) -> ProxmoxCredentials:
    return ProxmoxCredentials(
        endpoint_id=row.id,
        name=row.name,
        host=row.host,
        port=row.port,
        user=row.username,
        password=reveal(settings, row.password_enc),
        token_name=row.token_name,
        token_value=reveal(settings, row.token_value_enc),
        verify_ssl=row.verify_ssl,
        timeout_s=float(row.timeout),
        attempts=max(1, row.max_retries + 1),
        backoff_s=row.retry_backoff,
    )


def load_proxmox(session: Session, endpoint_id: int) -> ProxmoxEndpoint:
    row = session.get(ProxmoxEndpoint, endpoint_id)
    if row is None:
        raise NotFound(f"Proxmox endpoint {endpoint_id} does not exist")
    return row


def enabled_proxmox_ids(session: Session, wanted: list[int] | None) -> list[int]:
    query = select(ProxmoxEndpoint.id).where(ProxmoxEndpoint.enabled.is_(True))
    if wanted:
        query = query.where(ProxmoxEndpoint.id.in_(wanted))
    return sorted(session.scalars(query))


def netbox_connection(settings: Settings, session: Session) -> NetBoxConnection:
    """The (single) enabled NetBox endpoint; the lowest id if several are enabled."""
    row = session.scalars(
        select(NetBoxEndpoint).where(NetBoxEndpoint.enabled.is_(True)).order_by(NetBoxEndpoint.id)
    ).first()
    if row is None:
        raise NotFound("no NetBox endpoint is configured (PUT /netbox/endpoint first)")
    token = reveal(settings, row.token_enc) or ""
    if row.token_version == TokenVersion.V2:
        # Same convention as the gateway: the stored key includes its ``nbt_`` prefix.
        token = f"{reveal(settings, row.token_key_enc) or ''}.{token}"
    return NetBoxConnection(row.id, row.url, token, row.token_version, row.verify_ssl)

"""The database: endpoint registry, API keys and run records (SQLAlchemy 2, typed).

Secrets are stored only as ciphertext (``*_enc`` columns, see ``shared.crypto``);
no model carries a plaintext secret attribute, so none can be logged or returned
by accident.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Deterministic constraint names, so Alembic migrations behave the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TokenVersion(enum.StrEnum):
    V1 = "v1"
    V2 = "v2"


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"


def build_url(host: str, port: int, *, https: bool) -> str:
    scheme = "https" if https else "http"
    default = 443 if https else 80
    shown = host if ":" not in host else f"[{host}]"
    return f"{scheme}://{shown}" if port == default else f"{scheme}://{shown}:{port}"


class NetBoxEndpoint(Base):
    __tablename__ = "netbox_endpoint"
    __table_args__ = (
        CheckConstraint("port > 0 AND port < 65536", name="port_range"),
        CheckConstraint("token_version = 'v1' OR token_key_enc IS NOT NULL", name="v2_needs_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    ip_address: Mapped[str] = mapped_column(String(255))
    domain: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=443)
    token_version: Mapped[TokenVersion] = mapped_column(
        Enum(
            TokenVersion,
            native_enum=False,
            length=4,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=TokenVersion.V1,
    )
    #: v2 token key id (``nbt_<key>``), encrypted.
    token_key_enc: Mapped[str | None] = mapped_column(Text)
    #: The token (v1) or the v2 secret, encrypted.
    token_enc: Mapped[str] = mapped_column(Text)
    verify_ssl: Mapped[bool] = mapped_column(Boolean, default=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def host(self) -> str:
        return self.domain or self.ip_address

    @property
    def url(self) -> str:
        """https on port 443 or when certificates are verified; plain http otherwise."""
        return build_url(self.host, self.port, https=self.port == 443 or self.verify_ssl)


class ProxmoxEndpoint(Base):
    __tablename__ = "proxmox_endpoint"
    __table_args__ = (
        CheckConstraint("port > 0 AND port < 65536", name="port_range"),
        CheckConstraint(
            "password_enc IS NOT NULL OR (token_name IS NOT NULL AND token_value_enc IS NOT NULL)",
            name="has_credentials",
        ),
        CheckConstraint("timeout > 0", name="timeout_positive"),
        CheckConstraint("max_retries >= 0", name="retries_non_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    ip_address: Mapped[str] = mapped_column(String(255))
    domain: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=8006)
    username: Mapped[str] = mapped_column(String(255))
    password_enc: Mapped[str | None] = mapped_column(Text)
    token_name: Mapped[str | None] = mapped_column(String(255))
    token_value_enc: Mapped[str | None] = mapped_column(Text)
    verify_ssl: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Writes to Proxmox (power verbs, snapshots, migrations) are off unless allowed here.
    allow_writes: Mapped[bool] = mapped_column(Boolean, default=False)
    timeout: Mapped[int] = mapped_column(Integer, default=30)
    max_retries: Mapped[int] = mapped_column(Integer, default=3)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: NetBox site to place this cluster in (slug); default "Proxmox Default Site - <cluster>".
    site_slug: Mapped[str | None] = mapped_column(String(100))
    #: Seconds between retries of a failed Proxmox call (pushed by the plugin; migration 0002).
    retry_backoff: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    #: "api" or "api_ssh" (pushed by the plugin; migration 0002).
    access_methods: Mapped[str] = mapped_column(String(16), default="api", server_default="api")
    #: Shared secret that signs this endpoint's hookscript events (encrypted); none = hooks off.
    hook_secret_enc: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def host(self) -> str:
        return self.domain or self.ip_address

    @property
    def uses_token(self) -> bool:
        return self.token_name is not None and self.token_value_enc is not None


class ApiKey(Base):
    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(255), default="")
    #: Short public prefix of the key, to find its row without scanning every hash.
    lookup: Mapped[str] = mapped_column(String(16), index=True)
    #: Keyed hash (HMAC-SHA256) of the whole key; the key itself is never stored.
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BootstrapClaim(Base):
    """One row, ever: inserted with the first API key, so bootstrap never reopens."""

    __tablename__ = "bootstrap_claim"
    __table_args__ = (CheckConstraint("id = 1", name="singleton"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Schedule(Base):
    """A sync that fires on an interval or a cron expression (UTC), from every gateway replica."""

    __tablename__ = "schedule"
    __table_args__ = (
        CheckConstraint("(interval_s IS NULL) <> (cron IS NULL)", name="one_timing"),
        CheckConstraint("interval_s IS NULL OR interval_s >= 60", name="interval_floor"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    interval_s: Mapped[int | None] = mapped_column(Integer)
    cron: Mapped[str | None] = mapped_column(String(100))
    #: Proxmox endpoint ids the run covers; None = every enabled endpoint (a full update).
    endpoint_ids: Mapped[list[int] | None] = mapped_column(JSON)
    stages: Mapped[list[str] | None] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SyncRun(Base):
    __tablename__ = "sync_run"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    #: What the run covers: endpoint ids, stages, guest ids (JSON).
    scope: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[RunStatus] = mapped_column(
        Enum(
            RunStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
        ),
        default=RunStatus.QUEUED,
    )
    #: Per object kind: {"virtual_machine": {"created": n, "updated": n, ...}, ...}
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error_summary: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

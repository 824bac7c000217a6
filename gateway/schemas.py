"""Request and response models of the gateway's own routes (auth, runs, admin, patches).

Endpoint records in and out are in ``shared.schemas`` (workers read them too).
These drive both input validation and ``/openapi.json``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, SecretStr, field_validator, model_validator

from shared.apikeys import MAX_KEY_LENGTH, MIN_KEY_LENGTH
from shared.db.models import TokenVersion
from shared.errors import ValidationFailed
from shared.schemas import Host, Name, Port, StrictModel, blank_is_none
from shared.sync.stages import check_stage_names

RunId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]


def _known_stages(names: list[str]) -> list[str]:
    try:
        return check_stage_names(names)
    except ValidationFailed as exc:
        raise ValueError(str(exc).removeprefix("stages: ")) from None


#: Stage names a run may select (``shared.sync.stages``), sorted and unique.
StageNames = Annotated[
    list[Annotated[str, Field(max_length=64)]], Field(min_length=1, max_length=64), AfterValidator(_known_stages)
]
#: A database row id: positive and within a 64-bit signed integer (SQLite and PostgreSQL).
RowId = Annotated[int, Field(gt=0, le=2**63 - 1)]


class Detail(BaseModel):
    detail: Any


# --- auth ---------------------------------------------------------------------------------


class BootstrapStatusOut(BaseModel):
    needs_bootstrap: bool
    has_db_keys: bool


class RegisterKeyIn(StrictModel):
    api_key: SecretStr = Field(min_length=MIN_KEY_LENGTH, max_length=MAX_KEY_LENGTH)
    label: Annotated[str, Field(max_length=255)] = ""


class CreateKeyIn(StrictModel):
    label: Annotated[str, Field(max_length=255)] = ""


class ApiKeyOut(BaseModel):
    id: int
    label: str
    is_active: bool
    #: Unix time (the plugin validates a number).
    created_at: float
    revoked_at: float | None = None
    lookup: str


class ApiKeyCreatedOut(ApiKeyOut):
    #: The key itself: shown once, never stored.
    raw_key: str


class ApiKeysOut(BaseModel):
    keys: list[ApiKeyOut]


# --- endpoint patches (PUT is partial: the plugin sends {"enabled": false, ...}) ------------


class NetBoxEndpointPatch(StrictModel):
    name: Name | None = None
    ip_address: Host | None = None
    domain: Host | None = None
    port: Port | None = None
    token_version: TokenVersion | None = None
    token_key: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    token: SecretStr | None = Field(default=None, min_length=1, max_length=1024)
    verify_ssl: bool | None = None
    enabled: bool | None = None

    _domain_blank = field_validator("domain", mode="before")(blank_is_none)


class ProxmoxEndpointPatch(StrictModel):
    name: Name | None = None
    ip_address: Host | None = None
    domain: Host | None = None
    port: Port | None = None
    username: Annotated[str, Field(min_length=3, max_length=255, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None  # fmt: skip
    password: SecretStr | None = Field(default=None, max_length=1024)
    token_name: Annotated[str, Field(max_length=255)] | None = None
    token_value: SecretStr | None = Field(default=None, max_length=1024)
    verify_ssl: bool | None = None
    allow_writes: bool | None = None
    timeout: Annotated[int, Field(gt=0, le=3600)] | None = None
    max_retries: Annotated[int, Field(ge=0, le=100)] | None = None
    enabled: bool | None = None
    site_slug: Annotated[str, Field(max_length=100)] | None = None
    retry_backoff: Annotated[float, Field(ge=0, le=300)] | None = None
    access_methods: Literal["api", "api_ssh"] | None = None
    allow_packer_template_builds: bool | None = None
    node_device_name_template: str | None = None
    site_id: int | None = None
    site_name: str | None = None
    tenant_id: int | None = None
    tenant_slug: str | None = None
    tenant_name: str | None = None

    _domain_blank = field_validator("domain", "site_slug", mode="before")(blank_is_none)


class PeerStatusOut(BaseModel):
    ok: bool
    endpoint: str
    status_code: int | None = None
    detail: Any = None


# --- admin --------------------------------------------------------------------------------


class EncryptionStatusOut(BaseModel):
    configured: bool
    active_key_id: str | None
    key_ids: list[str]
    #: key id -> number of stored secrets it protects ("?" = a key not configured here).
    rows_by_key: dict[str, int]
    source: Literal["env", "file", "env+file"] | None


class RotationOut(BaseModel):
    active_key_id: str
    reencrypted: int
    unchanged: int


# --- runs ---------------------------------------------------------------------------------


class FullUpdateIn(StrictModel):
    """Body of ``POST /full-update`` (all optional; query ``proxmox_endpoint_ids`` also works)."""

    endpoint_ids: list[RowId] | None = Field(default=None, max_length=1000)
    stages: StageNames | None = None


Vmid = Annotated[int, Field(ge=100, le=999_999_999)]


class SyncGuestIn(StrictModel):
    """One guest: ``endpoint_id`` and ``vmid``, or the ``netbox_vm_id`` of a VM we manage."""

    endpoint_id: RowId | None = None
    vmid: Vmid | None = None
    netbox_vm_id: RowId | None = None
    reason: Annotated[str, Field(max_length=64)] = "api"

    @model_validator(mode="after")
    def _one_way_to_name_the_guest(self) -> SyncGuestIn:
        by_proxmox = self.endpoint_id is not None or self.vmid is not None
        if self.netbox_vm_id is not None and by_proxmox:
            raise ValueError("give either netbox_vm_id, or endpoint_id and vmid, not both")
        if self.netbox_vm_id is None and (self.endpoint_id is None or self.vmid is None):
            raise ValueError("give endpoint_id and vmid, or netbox_vm_id")
        return self


class PluginGuestQuery(BaseModel):
    """The plugin's "Sync now" call: ``GET /sync/individual/vm?cluster_name&node&type&vmid``.

    Other parameters the plugin sends (``dry_run``, ``netbox_branch_schema_id``) are ignored.
    """

    cluster_name: Annotated[str, Field(min_length=1, max_length=255)]
    node: Annotated[str, Field(max_length=255)] | None = None
    type: Literal["qemu", "lxc"] | None = None
    vmid: Vmid


class RunUrls(BaseModel):
    self: str
    events: str
    cancel: str


class RunAcceptedOut(BaseModel):
    run_id: str
    #: True when an identical run was in flight and this request joined it.
    joined: bool
    status: str
    urls: RunUrls


class GuestAcceptedOut(BaseModel):
    run_id: str | None
    #: True when a sync of this guest was already queued (this request folded into it).
    coalesced: bool
    urls: RunUrls | None = None
    endpoint_id: int
    vmid: int


class PluginGuestOut(GuestAcceptedOut):
    """The predecessor's individual-sync shape, so the plugin reads it as it always did.

    The sync is queued, not done inline: ``action`` is ``queued`` and the run's own
    events tell the outcome; nothing else needs syncing first (``dependencies_synced``).
    """

    object_type: Literal["virtual_machine"] = "virtual_machine"
    action: Literal["queued"] = "queued"
    dry_run: bool = False
    proxmox_resource: dict[str, Any]
    dependencies_synced: list[dict[str, Any]] = []
    error: str | None = None


class RunOut(BaseModel):
    id: str
    kind: str
    status: str
    scope: dict[str, Any]
    counts: dict[str, Any]
    error_summary: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    #: Live ledger figures while the run is known to Redis.
    expected: int | None = None
    done: int | None = None
    failed: int | None = None
    cancel_requested: bool = False
    urls: RunUrls


class RunsOut(BaseModel):
    runs: list[RunOut]
    total: int


class ActiveRunOut(BaseModel):
    id: str
    kind: str
    started_at: float


class SyncActiveOut(BaseModel):
    active: bool
    id: str | None
    kind: str | None
    started_at: float | None
    runs: list[ActiveRunOut]


class CancelOut(BaseModel):
    run_id: str
    cancel_requested: bool
    status: str


# --- schedules ----------------------------------------------------------------------------


class ScheduleIn(StrictModel):
    """Exactly one of ``interval_s`` (>= 60) or ``cron`` (five fields, UTC)."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    interval_s: Annotated[int, Field(ge=60, le=366 * 86_400)] | None = None
    cron: Annotated[str, Field(min_length=9, max_length=100)] | None = None
    endpoint_ids: Annotated[list[RowId], Field(min_length=1, max_length=1000)] | None = None
    stages: StageNames | None = None
    enabled: bool = True


class SchedulePatch(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    interval_s: Annotated[int, Field(ge=60, le=366 * 86_400)] | None = None
    cron: Annotated[str, Field(min_length=9, max_length=100)] | None = None
    endpoint_ids: Annotated[list[RowId], Field(min_length=1, max_length=1000)] | None = None
    stages: StageNames | None = None
    enabled: bool | None = None


class ScheduleLastFire(BaseModel):
    slot: float
    outcome: Literal["started", "skipped", "failed"]
    run_id: str | None = None
    detail: str = ""


class ScheduleOut(BaseModel):
    id: int
    name: str
    interval_s: int | None
    cron: str | None
    endpoint_ids: list[int] | None
    stages: list[str] | None
    enabled: bool
    #: Unix time of the next slot (None when disabled).
    next_fire_at: float | None
    last_fire: ScheduleLastFire | None = None


class SchedulesOut(BaseModel):
    schedules: list[ScheduleOut]

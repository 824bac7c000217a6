"""Pydantic schemas of what crosses the gateway: endpoint records in and out.

Input models validate everything a user can get wrong (a Proxmox endpoint with
neither a password nor a complete token pair is refused, a v2 NetBox token
needs its key). Output models never carry a secret.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from shared.db.models import TokenVersion

Port = Annotated[int, Field(gt=0, lt=65536)]
Name = Annotated[str, Field(min_length=1, max_length=255)]
Host = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.:\-\[\]_]+$")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def blank_is_none(value: Any) -> Any:
    """The plugin sends ``""`` for an unset domain; store it as None."""
    return None if isinstance(value, str) and not value.strip() else value


class NetBoxEndpointIn(StrictModel):
    name: Name = "NetBox"
    ip_address: Host
    domain: Host | None = None

    _domain_blank = field_validator("domain", mode="before")(blank_is_none)
    port: Port = 443
    token_version: TokenVersion = TokenVersion.V1
    token_key: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    token: SecretStr = Field(min_length=1, max_length=1024)
    verify_ssl: bool = True
    enabled: bool = True

    @model_validator(mode="after")
    def _v2_needs_key(self) -> Self:
        if self.token_version is TokenVersion.V2 and not self.token_key:
            raise ValueError("token_key is required when token_version is 'v2'")
        if self.token_version is TokenVersion.V1:
            # A v1 token is one string; a stray key would be sent nowhere.
            self.token_key = None
        return self


class NetBoxEndpointOut(BaseModel):
    id: int
    name: str
    ip_address: str
    domain: str | None
    port: int
    token_version: TokenVersion
    verify_ssl: bool
    enabled: bool
    url: str


class ProxmoxEndpointIn(StrictModel):
    name: Name
    ip_address: Host
    domain: Host | None = None
    port: Port = 8006
    username: Annotated[str, Field(min_length=3, max_length=255, pattern=r"^[^@\s]+@[^@\s]+$")]
    password: SecretStr | None = None
    token_name: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    token_value: SecretStr | None = None
    verify_ssl: bool = True
    allow_writes: bool = False
    # Ranges as the netbox-proxbox plugin's own model allows (it pushes these values).
    timeout: Annotated[int, Field(gt=0, le=3600)] = 30
    max_retries: Annotated[int, Field(ge=0, le=100)] = 3
    enabled: bool = True
    site_slug: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    # --- fields the plugin pushes (netbox-proxbox-client.md §1.4 step 4) ---------------
    retry_backoff: Annotated[float, Field(ge=0, le=300)] = 0.0
    access_methods: Literal["api", "api_ssh"] = "api"
    #: Accepted for wire compatibility; proxbox-mq builds no templates, so always stored False.
    allow_packer_template_builds: bool = False
    # Accepted and ignored (the plugin owns placement of nodes in NetBox sites and tenants).
    node_device_name_template: str | None = None
    site_id: int | None = None
    site_name: str | None = None
    tenant_id: int | None = None
    tenant_slug: str | None = None
    tenant_name: str | None = None

    _domain_blank = field_validator("domain", "site_slug", mode="before")(blank_is_none)

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> Self:
        has_password = self.password is not None and bool(self.password.get_secret_value())
        has_name = bool(self.token_name)
        has_value = self.token_value is not None and bool(self.token_value.get_secret_value())
        if has_name != has_value:
            raise ValueError("token_name and token_value must be given together")
        if not has_password and not (has_name and has_value):
            raise ValueError("give either a password or a token pair (token_name and token_value)")
        return self


class ProxmoxEndpointOut(BaseModel):
    id: int
    name: str
    ip_address: str
    domain: str | None
    port: int
    username: str
    token_name: str | None
    auth_method: str
    verify_ssl: bool
    allow_writes: bool
    timeout: int
    max_retries: int
    enabled: bool
    site_slug: str | None
    retry_backoff: float = 0.0
    access_methods: str = "api"
    allow_packer_template_builds: bool = False

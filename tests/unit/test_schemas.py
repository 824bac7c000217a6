"""Endpoint input validation: what a user can get wrong is refused with a reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.db.models import NetBoxEndpoint, TokenVersion, build_url
from shared.schemas import NetBoxEndpointIn, ProxmoxEndpointIn

PVE = {"name": "lab", "ip_address": "10.0.0.1", "username": "root@pam"}


def test_proxmox_endpoint_without_password_or_token_pair_is_refused() -> None:
    with pytest.raises(ValidationError, match="either a password or a token pair"):
        ProxmoxEndpointIn(**PVE)


@pytest.mark.parametrize("half", [{"token_name": "sync"}, {"token_value": "secret"}])
def test_half_a_token_pair_is_refused(half: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="must be given together"):
        ProxmoxEndpointIn(**PVE, **half)


def test_password_auth_and_token_auth_are_both_accepted() -> None:
    assert ProxmoxEndpointIn(**PVE, password="pw").allow_writes is False
    token = ProxmoxEndpointIn(**PVE, token_name="sync", token_value="uuid")
    assert token.token_value is not None and token.token_value.get_secret_value() == "uuid"
    assert "uuid" not in repr(token)  # secrets never show in reprs or logs


@pytest.mark.parametrize(
    "bad",
    [{"port": 0}, {"port": 65536}, {"username": "root"}, {"timeout": 0}, {"surprise": 1}],
)
def test_out_of_range_and_unknown_fields_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ProxmoxEndpointIn(**{**PVE, "password": "pw", **bad})


def test_netbox_v2_token_needs_its_key() -> None:
    with pytest.raises(ValidationError, match="token_key is required"):
        NetBoxEndpointIn(ip_address="127.0.0.1", token_version="v2", token="secret")
    ok = NetBoxEndpointIn(ip_address="127.0.0.1", token_version="v2", token_key="k", token="s")
    assert ok.token_version is TokenVersion.V2


def test_netbox_v1_token_drops_a_stray_key() -> None:
    endpoint = NetBoxEndpointIn(ip_address="127.0.0.1", token_key="k", token="s")
    assert endpoint.token_key is None


@pytest.mark.parametrize(
    ("port", "verify", "expected"),
    [
        (443, False, "https://nb.example"),
        (8001, False, "http://nb.example:8001"),
        (8443, True, "https://nb.example:8443"),
        (80, False, "http://nb.example"),
    ],
)
def test_netbox_url_is_computed_like_the_predecessor(
    port: int, verify: bool, expected: str
) -> None:
    endpoint = NetBoxEndpoint(
        name="nb", ip_address="10.0.0.9", domain="nb.example", port=port, verify_ssl=verify
    )
    assert endpoint.url == expected


def test_ipv6_hosts_are_bracketed() -> None:
    assert build_url("::1", 8001, https=False) == "http://[::1]:8001"

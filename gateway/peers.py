"""Live calls to the configured peers: NetBox ``/api/status/`` and reads, Proxmox ``/version``.

Secrets are decrypted only here, only to build the one request's headers, and
never appear in what is returned or logged (errors report the exception class
and the peer's status, not the request).
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.crypto import SecretBox
from shared.db.models import NetBoxEndpoint, ProxmoxEndpoint, TokenVersion, build_url
from shared.errors import NetBoxError

#: Seconds a status check may take (the plugin's dashboard waits 5 s).
PEER_TIMEOUT_S = 5.0


def netbox_auth_header(endpoint: NetBoxEndpoint, box: SecretBox) -> dict[str, str]:
    token = box.decrypt(endpoint.token_enc)
    if endpoint.token_version is TokenVersion.V2:
        key = box.decrypt_optional(endpoint.token_key_enc) or ""
        return {"Authorization": f"Bearer {key}.{token}"}
    return {"Authorization": f"Token {token}"}


def _failure(exc: Exception) -> str:
    # The class and message of transport errors carry no credentials (httpx puts the URL only).
    return f"{type(exc).__name__}: {exc}"


async def netbox_status(endpoint: NetBoxEndpoint, box: SecretBox) -> dict[str, Any]:
    url = f"{endpoint.url}/api/status/"
    headers = {**netbox_auth_header(endpoint, box), "Accept": "application/json"}
    try:
        async with httpx.AsyncClient(verify=endpoint.verify_ssl, timeout=PEER_TIMEOUT_S) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return {"ok": False, "endpoint": endpoint.url, "detail": _failure(exc)}
    detail: Any
    try:
        detail = response.json()
    except ValueError:
        detail = response.text[:500]
    return {
        "ok": response.status_code == 200,
        "endpoint": endpoint.url,
        "status_code": response.status_code,
        "detail": detail,
    }


async def netbox_get(
    endpoint: NetBoxEndpoint, box: SecretBox, path: str, params: dict[str, str] | None = None
) -> Any:
    """One NetBox API read (``path`` under ``/api/``); None when NetBox answers 404.

    Raises :class:`NetBoxError` (502 at the edge) when NetBox cannot be reached or fails.
    """
    headers = {**netbox_auth_header(endpoint, box), "Accept": "application/json"}
    try:
        async with httpx.AsyncClient(verify=endpoint.verify_ssl, timeout=PEER_TIMEOUT_S) as client:
            response = await client.get(f"{endpoint.url}/api/{path}", headers=headers, params=params)
    except httpx.HTTPError as exc:
        raise NetBoxError(f"NetBox could not be reached: {_failure(exc)}") from None
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise NetBoxError(f"NetBox answered HTTP {response.status_code} to GET /api/{path}",
                          status=response.status_code)  # fmt: skip
    try:
        return response.json()
    except ValueError:
        raise NetBoxError(f"NetBox answered GET /api/{path} with a body that is not JSON") from None


def proxmox_base_url(endpoint: ProxmoxEndpoint) -> str:
    return build_url(endpoint.host, endpoint.port, https=True) + "/api2/json"


async def _proxmox_auth(
    client: httpx.AsyncClient, endpoint: ProxmoxEndpoint, box: SecretBox
) -> dict[str, str]:
    """Headers (API token) or a ticket cookie (password login) for one request."""
    if endpoint.uses_token:
        value = box.decrypt(endpoint.token_value_enc or "")
        return {"Authorization": f"PVEAPIToken={endpoint.username}!{endpoint.token_name}={value}"}
    password = box.decrypt(endpoint.password_enc or "")
    response = await client.post(
        f"{proxmox_base_url(endpoint)}/access/ticket",
        data={"username": endpoint.username, "password": password},
    )
    response.raise_for_status()
    ticket = response.json()["data"]["ticket"]
    return {"Cookie": f"PVEAuthCookie={ticket}"}


class ProxmoxReader:
    """Read-only calls to one endpoint over one connection, authenticated once.

    ``async with ProxmoxReader(endpoint, box) as pve: await pve.read("/version")``
    """

    def __init__(self, endpoint: ProxmoxEndpoint, box: SecretBox) -> None:
        self._endpoint, self._box = endpoint, box
        self._client = httpx.AsyncClient(verify=endpoint.verify_ssl, timeout=endpoint.timeout)
        self._headers: dict[str, str] | None = None

    async def __aenter__(self) -> ProxmoxReader:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.aclose()

    async def read(self, path: str, params: dict[str, str] | None = None) -> Any:
        """The ``data`` of one GET; raises httpx errors (and KeyError on a bare body)."""
        if self._headers is None:
            self._headers = await _proxmox_auth(self._client, self._endpoint, self._box)
        response = await self._client.get(
            f"{proxmox_base_url(self._endpoint)}{path}", headers=self._headers, params=params
        )
        response.raise_for_status()
        return response.json()["data"]


async def proxmox_read(
    endpoint: ProxmoxEndpoint, box: SecretBox, path: str, params: dict[str, str] | None = None
) -> Any:
    """The ``data`` of one read-only Proxmox call; raises httpx errors (and KeyError on a bare body)."""
    async with ProxmoxReader(endpoint, box) as pve:
        return await pve.read(path, params)


async def proxmox_version(endpoint: ProxmoxEndpoint, box: SecretBox) -> dict[str, Any]:
    result: dict[str, Any] = {"endpoint_id": endpoint.id, "name": endpoint.name}
    try:
        data = await proxmox_read(endpoint, box, "/version") or {}
    except httpx.HTTPStatusError as exc:
        return {**result, "ok": False, "status_code": exc.response.status_code,
                "detail": f"Proxmox answered HTTP {exc.response.status_code}"}  # fmt: skip
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return {**result, "ok": False, "detail": _failure(exc)}
    return {**result, "ok": True, **{k: data.get(k) for k in ("version", "release", "repoid")}}

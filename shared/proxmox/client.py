"""Proxmox VE clients for the sync engine: proxmoxer under retries, one per endpoint.

- Token auth when the endpoint has one (no ticket round trip, no CSRF), else a
  password ticket (proxmoxer renews it).
- Transient failures (connection, timeout, 429, 5xx, 595/596 "node unreachable")
  are retried with capped, jittered back-off; everything else raises
  :class:`ProxmoxError` at once, with the status and Proxmox's message.
- ``verify_ssl = False`` is the operator's explicit choice for a self-signed
  cluster: urllib3's per-request InsecureRequestWarning is silenced for that
  endpoint's host only (once logged here instead), never globally.
"""

from __future__ import annotations

import functools
import logging
import re
import ssl
import warnings
from dataclasses import dataclass
from typing import Any

import requests
from proxmoxer import ProxmoxAPI
from proxmoxer.core import AuthenticationError, ResourceException
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InsecureRequestWarning

from shared.errors import ProxmoxError
from shared.proxmox.retry import call_with_retries, transient_status

log = logging.getLogger(__name__)
_warned_hosts: set[str] = set()


@dataclass(frozen=True)
class ProxmoxCredentials:
    """Everything needed to talk to one Proxmox endpoint, secrets in clear (never logged)."""

    endpoint_id: int
    name: str
    host: str
    port: int
    user: str
    password: str | None
    token_name: str | None
    token_value: str | None
    verify_ssl: bool
    timeout_s: float
    attempts: int
    backoff_s: float

    def __repr__(self) -> str:  # keep secrets out of logs and tracebacks
        return f"ProxmoxCredentials(endpoint_id={self.endpoint_id}, name={self.name!r}, host={self.host!r})"


class TransientProxmoxError(ProxmoxError):
    """A Proxmox failure worth retrying (connection, timeout, 429, 5xx, 595/596)."""


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, (TransientProxmoxError, requests.ConnectionError, requests.Timeout))


@functools.cache
def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class UnverifiedTLSAdapter(HTTPAdapter):
    """One TLS context for every connection to endpoints whose certificate is not checked.

    PVE closes the connection after every error answer (a guest agent that is not
    running, ...), so a sync opens many connections, and urllib3 would build a new
    context for each and load the system CA store into it: about 10 ms of CPU per
    connection, for certificates it then ignores.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = _unverified_context()
        super().init_poolmanager(*args, **kwargs)


def allow_unverified_tls(host: str) -> None:
    """Silence InsecureRequestWarning for this host only (the endpoint opted out of TLS checks)."""
    pattern = re.escape(f"Unverified HTTPS request is being made to host '{host}'")
    warnings.filterwarnings("ignore", message=pattern, category=InsecureRequestWarning)
    if host not in _warned_hosts:
        _warned_hosts.add(host)
        log.warning("TLS certificate checks are off for Proxmox host %s (endpoint setting)", host)


class ProxmoxClient:
    """GETs against one endpoint with retries; raises :class:`ProxmoxError`."""

    def __init__(self, credentials: ProxmoxCredentials) -> None:
        self.credentials = credentials
        self._api: ProxmoxAPI | None = None
        self.requests = 0

    @property
    def label(self) -> str:
        return f"{self.credentials.name} ({self.credentials.host}:{self.credentials.port})"

    def get(self, path: str, **params: Any) -> Any:
        """``GET /api2/json/<path>``'s ``data``, retried on transient errors."""
        creds = self.credentials
        return call_with_retries(
            lambda: self._get_once(path, params),
            attempts=max(1, creds.attempts),
            is_transient=is_transient,
            base_s=creds.backoff_s or 0.5,
        )

    def _get_once(self, path: str, params: dict[str, Any]) -> Any:
        if not self.credentials.verify_ssl:
            # pytest and friends reset warning filters between tests: re-assert ours per call.
            allow_unverified_tls(self.credentials.host)
        self.requests += 1
        try:
            return self._connect()(path).get(**params)
        except ResourceException as exc:
            raise _proxmox_error(self.label, path, exc.status_code, str(exc.status_message),
                                 str(exc.content or "")) from None  # fmt: skip
        except AuthenticationError as exc:
            self._api = None
            raise ProxmoxError(f"{self.label}: authentication failed: {exc}", status=401) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            self._api = None  # a fresh session (and ticket) next time
            raise TransientProxmoxError(
                f"{self.label}: cannot reach Proxmox: {type(exc).__name__}: {exc}"
            ) from None

    def _connect(self) -> ProxmoxAPI:
        if self._api is None:
            c = self.credentials
            options: dict[str, Any] = {"port": c.port, "verify_ssl": c.verify_ssl,
                                       "timeout": c.timeout_s, "backend": "https"}  # fmt: skip
            if c.token_name and c.token_value:
                self._api = ProxmoxAPI(c.host, user=c.user, token_name=c.token_name,
                                       token_value=c.token_value, **options)  # fmt: skip
            else:
                self._api = ProxmoxAPI(c.host, user=c.user, password=c.password, **options)
            if not c.verify_ssl:  # proxmoxer keeps its requests session here (no public accessor)
                self._api._store["session"].mount("https://", UnverifiedTLSAdapter())
        return self._api


def _proxmox_error(label: str, path: str, status: int, reason: str, content: str) -> ProxmoxError:
    message = f"{label}: GET /{path} -> {status} {reason} {content}".strip()
    kind = TransientProxmoxError if transient_status(status, f"{reason} {content}") else ProxmoxError
    return kind(message, status=status)

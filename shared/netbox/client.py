"""NetBox REST for the sync engine: cached GETs, paged reads, bulk list POST/PATCH/DELETE.

Built on the shared GET cache's session (``shared.netbox.session``), so reads are
served from Redis when fresh and every write invalidates what it touched. Bulk
writes use NetBox's list endpoints (one request, one transaction per chunk):
~48 ms per object instead of ~90 ms for single POSTs (reference real-peers §1.3).

Retries: reads on any transient error; writes only when NetBox cannot have
applied them (429, 503, connect failures), since a retried POST that had
landed would create objects twice.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pynetbox
import requests

from shared.errors import NetBoxError
from shared.netbox.cache import NetBoxGetCache
from shared.netbox.session import cached_netbox_api
from shared.proxmox.retry import call_with_retries, transient_status
from shared.sync.endpoints import NetBoxConnection

JsonObject = dict[str, Any]
_WRITE_RETRY_STATUSES = frozenset({429, 503})


class TransientNetBoxError(NetBoxError):
    """NetBox was unreachable or overloaded; worth another try later."""


class NetBoxClient:
    """One NetBox endpoint; thread-safe (requests session + counters under a lock)."""

    def __init__(
        self, connection: NetBoxConnection, cache: NetBoxGetCache, *, timeout_s: float = 60.0,
        attempts: int = 4,
    ) -> None:  # fmt: skip
        self.connection = connection
        self.api: pynetbox.api = cached_netbox_api(connection.url, connection.token, cache)
        self.session: requests.Session = self.api.http_session
        self.session.verify = connection.verify_ssl
        self.session.headers.update({"Authorization": connection.authorization,
                                     "Accept": "application/json"})  # fmt: skip
        self.base = connection.url.rstrip("/") + "/api/"
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()

    def close(self) -> None:
        self.session.close()

    # --- reads ---------------------------------------------------------------------
    def get(self, path: str, params: Mapping[str, Any] | None = None) -> JsonObject:
        answer = self._request("GET", path, params=params)
        return answer if isinstance(answer, dict) else {}

    def iter_all(
        self, path: str, params: Mapping[str, Any] | None = None, *, page: int = 1000
    ) -> Iterator[list[JsonObject]]:
        """Every object of a filtered list, one page at a time (memory: one page)."""
        query = {**(params or {}), "limit": page, "offset": 0, "ordering": "id"}
        while True:
            answer = self.get(path, query)
            results = list(answer.get("results") or [])
            if results:
                yield results
            if not answer.get("next") or not results:
                return
            query["offset"] = int(query["offset"]) + len(results)

    def first(self, path: str, params: Mapping[str, Any]) -> JsonObject | None:
        results = self.get(path, {**params, "limit": 2}).get("results") or []
        return results[0] if results else None

    # --- writes --------------------------------------------------------------------
    def create(self, path: str, objects: Sequence[JsonObject]) -> list[JsonObject]:
        """List POST; NetBox creates all of them or none (one transaction)."""
        answer = self._request("POST", path, json=list(objects))
        return answer if isinstance(answer, list) else [answer]

    def update(self, path: str, patches: Sequence[JsonObject]) -> list[JsonObject]:
        """List PATCH of ``[{"id": ..., field: value}, ...]``."""
        answer = self._request("PATCH", path, json=list(patches))
        return answer if isinstance(answer, list) else [answer]

    def delete(self, path: str, ids: Sequence[int]) -> None:
        self._request("DELETE", path, json=[{"id": object_id} for object_id in ids])

    def create_one(self, path: str, obj: JsonObject) -> JsonObject:
        answer = self._request("POST", path, json=obj)
        return answer if isinstance(answer, dict) else {}

    # --- plumbing ------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        def once() -> Any:
            return self._send(method, path, **kwargs)

        def retryable(exc: BaseException) -> bool:
            if not isinstance(exc, TransientNetBoxError):
                return False
            return method == "GET" or exc.status in _WRITE_RETRY_STATUSES or exc.status is None

        return call_with_retries(once, attempts=self.attempts, is_transient=retryable)

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.base + path.lstrip("/")
        with self._lock:
            self.requests[method] += 1
        try:
            response = self.session.request(method, url, timeout=self.timeout_s, **kwargs)
        except requests.ConnectTimeout as exc:
            raise TransientNetBoxError(f"NetBox {method} {path}: {exc}") from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            # The request may have reached NetBox: only GETs are retried (status None = read-only).
            error = TransientNetBoxError if method == "GET" else NetBoxError
            raise error(f"NetBox {method} {path}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise _error(method, path, response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()


def _error(method: str, path: str, response: requests.Response) -> NetBoxError:
    body = response.text[:600].replace("\n", " ")
    message = f"NetBox {method} {path} -> {response.status_code}: {body}"
    kind = TransientNetBoxError if transient_status(response.status_code) else NetBoxError
    return kind(message, status=response.status_code)

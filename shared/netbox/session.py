"""The seam: a ``requests.Session`` that pynetbox uses without knowing about the cache.

``cached_netbox_api(url, token, cache)`` is what the sync engine calls. Under it,
:class:`CachingSession` overrides ``send`` (it sees the final URL with the query and
the merged headers, token and branch included):

- GET of a NetBox API path with no body: served from the cache, or fetched and
  stored when the answer is a ``200`` JSON response (not redirected);
- POST/PUT/PATCH/DELETE of an API path: sent, then the exact paths it makes
  stale are invalidated (``cache_keys.invalidated_paths``) -- also when the write
  failed or raised, since NetBox may have applied part of it;
- everything else passes through untouched.

The cache never fails a request: its own errors are absorbed (``NetBoxGetCache``
fails open). Entries are keyed by the endpoint this session was built for, so a
``next`` link pointing at another origin is fetched but never cached.
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

import pynetbox
import requests
from requests.hooks import dispatch_hook
from requests.models import PreparedRequest
from requests.structures import CaseInsensitiveDict

from shared.netbox.cache import NetBoxGetCache
from shared.netbox.cache_keys import (
    WRITE_METHODS,
    decode_json,
    endpoint_id,
    endpoint_origin,
    entry_key,
    invalidated_paths,
)

log = logging.getLogger(__name__)

#: Response headers kept with a cached body (pynetbox reads API-Version on ``/api/``).
KEPT_HEADERS = ("Content-Type", "API-Version")
#: Marks responses served from the cache (for tests and debugging).
CACHE_HEADER = "X-Proxbox-Cache"


def encode_response(response: requests.Response) -> bytes:
    """One line of JSON with the kept headers, then the body as received."""
    kept = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    return json.dumps(kept, separators=(",", ":")).encode() + b"\n" + response.content


def decode_response(request: PreparedRequest, stored: bytes) -> requests.Response:
    head, _, body = stored.partition(b"\n")
    response = requests.Response()
    response.status_code = 200
    response.reason = "OK"
    response.headers = CaseInsensitiveDict(json.loads(head))
    response.headers[CACHE_HEADER] = "hit"
    response._content = body
    response.encoding = "utf-8"
    response.url = request.url or ""
    response.request = request
    response.elapsed = datetime.timedelta(0)
    return response


def _cacheable(response: requests.Response) -> bool:
    return (
        response.status_code == 200
        and not response.history
        and "json" in response.headers.get("Content-Type", "").lower()
    )


class CachingSession(requests.Session):
    """A requests session whose GETs go through the shared NetBox GET cache."""

    def __init__(self, cache: NetBoxGetCache, endpoint_url: str) -> None:
        super().__init__()
        self.cache = cache
        self.endpoint = endpoint_id(endpoint_url)
        self._origin = endpoint_origin(endpoint_url)

    def send(self, request: PreparedRequest, **kwargs: Any) -> requests.Response:
        method = (request.method or "GET").upper()
        if method == "GET":
            return self._send_get(request, **kwargs)
        if method in WRITE_METHODS:
            return self._send_write(request, **kwargs)
        return super().send(request, **kwargs)

    def _same_endpoint(self, url: str) -> bool:
        try:
            return endpoint_origin(url) == self._origin
        except Exception:
            return False

    def _send_get(self, request: PreparedRequest, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        key = None
        if self.cache.enabled and not request.body and not kwargs.get("stream"):
            if self._same_endpoint(url):
                key = entry_key(self.endpoint, url, request.headers)
        if key is None:
            return super().send(request, **kwargs)
        lookup = self.cache.lookup(key)
        if lookup.value is not None:
            hit = decode_response(request, lookup.value)
            hooked: requests.Response = dispatch_hook(  # type: ignore[no-untyped-call]
                "response", request.hooks, hit, **kwargs
            )
            return hooked
        response = super().send(request, **kwargs)
        if lookup.lease is not None and _cacheable(response):
            outcome = self.cache.store(key, encode_response(response), lookup)
            if outcome == "stale":
                log.debug("not caching %s: invalidated while it was fetched", key.path)
        return response

    def _send_write(self, request: PreparedRequest, **kwargs: Any) -> requests.Response:
        response: requests.Response | None = None
        try:
            response = super().send(request, **kwargs)
            return response
        finally:
            self._invalidate_after(request, response)

    def _invalidate_after(
        self, request: PreparedRequest, response: requests.Response | None
    ) -> None:
        path = request.path_url.partition("?")[0]
        answer = None
        if response is not None and "json" in response.headers.get("Content-Type", ""):
            answer = decode_json(response.content)
        paths = invalidated_paths(path, decode_json(request.body), answer)
        if paths:
            self.cache.invalidate(self.endpoint, paths)


def cached_netbox_api(
    url: str, token: str, cache: NetBoxGetCache, **api_options: Any
) -> pynetbox.api:
    """A pynetbox API for one NetBox whose GETs are served by the shared cache.

    ``api_options`` go to ``pynetbox.api`` (e.g. ``threading=True``). Set TLS
    options on ``api.http_session`` (it is a ``requests.Session``).
    """
    api = pynetbox.api(url, token=token, **api_options)
    api.http_session = CachingSession(cache, url)
    return api

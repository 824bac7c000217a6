"""How NetBox requests map to cache entries and which paths a write invalidates.

Pure functions, no Redis. An entry id is ``<endpoint>:<scope>:<path>[?<query>]``:

- ``endpoint`` -- 16 hex digits of SHA-256 over the NetBox origin (scheme, host,
  port), so one NetBox's answers are never served for another;
- ``scope`` -- 16 hex digits of SHA-256 over the credentials and branch header,
  so answers are never shared across tokens (whose permissions may differ) and
  the token itself is never stored;
- ``path`` -- the URL path exactly as sent; ``query`` -- the query with its
  parameters sorted (order does not change a NetBox answer), hashed when long.

The Lua scripts parse ``endpoint`` and ``path`` back out of the id (everything up
to the first ``?``), which is why neither may contain ``:`` before the path or a
``?`` inside the path (``urlsplit`` guarantees the latter).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from shared.errors import ValidationFailed

#: Request methods that change NetBox and therefore invalidate.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: API paths never cached: their answer is live state, not data.
UNCACHED_PATH_SUFFIXES = ("/api/status/",)
#: Queries longer than this are replaced by their hash in the entry id.
MAX_QUERY_CHARS = 512
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Headers that change what NetBox answers for the same URL.
_SCOPE_HEADERS = ("authorization", "x-netbox-branch")


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def endpoint_origin(url: str) -> str:
    """``scheme://host:port`` of a NetBox URL; raises :class:`ValidationFailed` if it has none."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValidationFailed(f"not an http(s) NetBox URL: {url!r}")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValidationFailed(f"bad port in NetBox URL: {url!r}") from None
    return f"{scheme}://{parts.hostname.lower()}:{port}"


def endpoint_id(url: str) -> str:
    """The cache's id for the NetBox at ``url`` (any URL on it: base, API root, object)."""
    return _short_hash(endpoint_origin(url))


def scope_id(headers: Mapping[str, str]) -> str:
    """Hash of the credentials and branch a request carries (header names case-insensitive)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return _short_hash("\0".join(lowered.get(name, "") for name in _SCOPE_HEADERS))


def is_api_path(path: str) -> bool:
    """True for NetBox REST paths (``.../api/...``), also when NetBox lives under a sub-path."""
    return "/api/" in path


def normalized_query(query: str) -> str:
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    text = urlencode(pairs)
    if len(text) > MAX_QUERY_CHARS:
        return "#" + hashlib.sha256(text.encode()).hexdigest()
    return text


@dataclass(frozen=True)
class EntryKey:
    """Where one GET's answer lives in the cache."""

    endpoint: str
    scope: str
    path: str
    query: str

    @property
    def entry_id(self) -> str:
        suffix = f"?{self.query}" if self.query else ""
        return f"{self.endpoint}:{self.scope}:{self.path}{suffix}"


def entry_key(endpoint: str, url: str, headers: Mapping[str, str]) -> EntryKey | None:
    """The entry a GET of ``url`` maps to, or None when it must not be cached."""
    parts = urlsplit(url)
    path = parts.path
    if not is_api_path(path) or path.endswith(UNCACHED_PATH_SUFFIXES):
        return None
    return EntryKey(endpoint, scope_id(headers), path, normalized_query(parts.query))


def _with_slash(path: str) -> str:
    return path if path.endswith("/") else path + "/"


def _split_detail(path: str) -> tuple[str, str] | None:
    """``/api/dcim/devices/55/`` -> (``/api/dcim/devices/``, ``55``); None for a list path."""
    head, _, last = _with_slash(path)[:-1].rpartition("/")
    if last.isdigit() and is_api_path(head + "/"):
        return head + "/", last
    return None


def _named_ids(body: Any) -> list[str]:
    """Ids of the objects a (bulk) write body names: ``[{"id": 1}, ...]`` or ``{"id": 1}``."""
    items = body if isinstance(body, list) else [body]
    ids = []
    for item in items:
        if isinstance(item, dict):
            value = item.get("id")
            if isinstance(value, int) and not isinstance(value, bool):
                ids.append(str(value))
            elif isinstance(value, str) and value.isdigit():
                ids.append(value)
    return ids


def _object_url_paths(answer: Any) -> list[str]:
    """Paths of the top-level objects a write's answer returns (their ``url`` fields)."""
    items = answer if isinstance(answer, list) else [answer]
    paths = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("url"), str):
            path = urlsplit(item["url"]).path
            if _split_detail(path):
                paths.append(_with_slash(path))
    return paths


def decode_json(raw: bytes | str | None) -> Any:
    """A JSON request/response body, or None if there is none or it is not JSON."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def invalidated_paths(path: str, body: Any = None, answer: Any = None) -> list[str]:
    """The API paths a write to ``path`` makes stale -- exact paths, never prefixes.

    - detail ``/x/55/``: itself and its list ``/x/`` (each with all query variants);
    - list ``/x/``: itself and the detail path of every object the body names
      (bulk PATCH/PUT/DELETE send ``[{"id": ...}, ...]``);
    - and every top-level object the answer returns (its ``url``) with its list, which
      covers writes that create objects elsewhere (e.g. ``available-ips``).
    """
    if not is_api_path(path):
        return []
    found: list[str] = []
    detail = _split_detail(path)
    if detail:
        found += [_with_slash(path), detail[0]]
    else:
        list_path = _with_slash(path)
        found.append(list_path)
        found += [f"{list_path}{object_id}/" for object_id in _named_ids(body)]
    for object_path in _object_url_paths(answer):
        split = _split_detail(object_path)
        found += [object_path, split[0]] if split else [object_path]
    return list(dict.fromkeys(found))

"""Idempotent "make these exist" for NetBox lookup objects (tags, roles, types, ...).

One filtered GET per chunk (served by the cache on a re-run), one list POST for
what is missing. Another worker creating the same object at the same moment
makes our POST fail on NetBox's uniqueness check; we then read again and carry
on with what it made.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from shared.errors import NetBoxError
from shared.netbox.client import JsonObject, NetBoxClient

#: Values per repeated query parameter (keeps URLs short).
LOOKUP_CHUNK = 50
#: Read-then-create rounds before a lost creation race counts as an error.
ENSURE_ROUNDS = 4


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_]+", "-", ascii_text.lower()).strip("-")
    return (slug or "x")[:100]


def find_by(
    client: NetBoxClient, path: str, field: str, values: Sequence[Any],
    extra: dict[str, Any] | None = None,
) -> dict[Any, JsonObject]:  # fmt: skip
    """``{value: object}`` for the objects whose ``field`` is one of ``values``."""
    found: dict[Any, JsonObject] = {}
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), LOOKUP_CHUNK):
        chunk = unique[start : start + LOOKUP_CHUNK]
        params: dict[str, Any] = {field: chunk, "limit": 1000, **(extra or {})}
        for obj in client.get(path, params).get("results") or []:
            found[obj[field]] = obj
    return found


def ensure_by(
    client: NetBoxClient, path: str, field: str, desired: Sequence[JsonObject]
) -> tuple[dict[Any, JsonObject], list[JsonObject]]:
    """Objects keyed by ``field``, creating the missing ones; also returns those created.

    Several batches often create the same tags at once: a refused POST means another
    writer got there first, so read again and create what is still missing (a few rounds).
    """
    wanted = {obj[field]: obj for obj in desired}
    created: list[JsonObject] = []
    for attempt in range(ENSURE_ROUNDS):
        found = find_by(client, path, field, list(wanted))
        missing = [obj for key, obj in wanted.items() if key not in found]
        if not missing:
            return found, created
        try:
            made = client.create(path, missing)
        except NetBoxError as exc:
            if not lost_a_race(exc) or attempt + 1 == ENSURE_ROUNDS:
                raise
            continue
        created += made
        found.update({obj[field]: obj for obj in made})
        return found, created
    raise AssertionError("unreachable")


def lost_a_race(exc: NetBoxError) -> bool:
    """Another writer created the object first: NetBox says 400 "already exists" from its
    validators, or 500 IntegrityError when both passed validation at the same moment."""
    text = str(exc).lower()
    if exc.status == 400:
        return True
    return exc.status == 500 and ("unique constraint" in text or "duplicate key" in text)

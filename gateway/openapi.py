"""``/openapi.json`` from the pydantic models (no YAML docstrings, no extra dependency).

:data:`OPERATIONS` names, for each (method, path), its summary, request model and
response model; the app's route table supplies the rest. A test checks that every
route is described, so a new route without an entry fails the suite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute, Route, WebSocketRoute

from gateway import schemas as gw
from gateway.auth import HEADER, PUBLIC_PATHS
from gateway.routes.stage_streams import STAGE_STREAMS, VM_STAGE_STREAMS
from shared import __version__
from shared import schemas as shared_schemas
from shared.db.models import RunStatus

REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Operation:
    summary: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    list_of: bool = False
    media: str = "application/json"
    #: Query parameters: name -> JSON schema (a name ending in "*" is required).
    query: dict[str, dict[str, Any]] = field(default_factory=dict)


#: Query parameter schemas used by several operations.
ID_LIST = {"type": "string", "pattern": r"^[0-9]+(,[0-9]+)*$", "description": "comma-separated ids"}
ENDPOINT_IDS = {"proxmox_endpoint_ids": ID_LIST}


SSE = "text/event-stream"
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/"): Operation("Identify the backend (message starts with 'Proxbox Backend')"),
    ("GET", "/health"): Operation("Ready when the database, Redis and RabbitMQ answer (else 503)"),
    ("GET", "/version"): Operation("Version and capabilities"),
    ("GET", "/openapi.json"): Operation("This document"),
    ("GET", "/docs"): Operation("Human-readable API reference (offline)", media="text/html"),
    ("GET", "/metrics"): Operation("Prometheus metrics", media="text/plain"),
    ("GET", "/auth/bootstrap-status"): Operation("Whether the first key may still be registered", response=gw.BootstrapStatusOut),
    ("POST", "/auth/register-key"): Operation("Register the very first API key (201 once, then 409)", gw.RegisterKeyIn, gw.Detail, 201),
    ("GET", "/auth/keys"): Operation("List API keys (never the keys themselves)", response=gw.ApiKeysOut),
    ("POST", "/auth/keys"): Operation("Create a key; the raw key is shown once", gw.CreateKeyIn, gw.ApiKeyCreatedOut, 201),
    ("DELETE", "/auth/keys/{key_id}"): Operation("Revoke a key (never the last active one)", response=gw.ApiKeyOut),
    ("POST", "/auth/keys/{key_id}/revoke"): Operation("Revoke a key (never the last active one)", response=gw.ApiKeyOut),
    ("GET", "/netbox/endpoint"): Operation("The NetBox endpoint (a list of at most one)", response=shared_schemas.NetBoxEndpointOut, list_of=True),
    ("POST", "/netbox/endpoint"): Operation("Create the NetBox endpoint (409 when one exists)", shared_schemas.NetBoxEndpointIn, shared_schemas.NetBoxEndpointOut, 201),
    ("GET", "/netbox/endpoint/{endpoint_id}"): Operation("Read the NetBox endpoint", response=shared_schemas.NetBoxEndpointOut),
    ("PUT", "/netbox/endpoint/{endpoint_id}"): Operation("Update fields of the NetBox endpoint", gw.NetBoxEndpointPatch, shared_schemas.NetBoxEndpointOut),
    ("DELETE", "/netbox/endpoint/{endpoint_id}"): Operation("Delete the NetBox endpoint", status=204),
    ("GET", "/netbox/status"): Operation("NetBox /api/status/ through the stored endpoint (502 if it fails)", response=gw.PeerStatusOut),
    ("GET", "/proxmox/endpoints"): Operation("List Proxmox endpoints", response=shared_schemas.ProxmoxEndpointOut, list_of=True),
    ("POST", "/proxmox/endpoints"): Operation("Create a Proxmox endpoint", shared_schemas.ProxmoxEndpointIn, shared_schemas.ProxmoxEndpointOut, 201),
    ("GET", "/proxmox/endpoints/{endpoint_id}"): Operation("Read a Proxmox endpoint", response=shared_schemas.ProxmoxEndpointOut),
    ("PUT", "/proxmox/endpoints/{endpoint_id}"): Operation("Update fields of a Proxmox endpoint", gw.ProxmoxEndpointPatch, shared_schemas.ProxmoxEndpointOut),
    ("DELETE", "/proxmox/endpoints/{endpoint_id}"): Operation("Delete a Proxmox endpoint", status=204),
    ("GET", "/proxmox/version"): Operation("Proxmox /version of each selected endpoint (proxmox_endpoint_ids)", query=ENDPOINT_IDS),
    ("GET", "/admin/encryption"): Operation("Active key id and secrets per key", response=gw.EncryptionStatusOut),
    ("GET", "/admin/encryption/status"): Operation("Same as /admin/encryption (the plugin's path)", response=gw.EncryptionStatusOut),
    ("POST", "/admin/encryption/rotate"): Operation("Re-encrypt every secret under the active key, all or nothing", response=gw.RotationOut),
    ("POST", "/full-update"): Operation("Start (or join) a full update; 202 with the run id", gw.FullUpdateIn, gw.RunAcceptedOut, 202, query=ENDPOINT_IDS),
    ("GET", "/full-update/stream"): Operation("Start or join a full update and stream it (plugin SSE framing)", media=SSE,
                                              query={**ENDPOINT_IDS, "stages": {"type": "string", "description": "comma-separated stage names"}}),
    ("GET", "/schedules"): Operation("Schedules with their next fire time and last fire", response=gw.SchedulesOut),
    ("POST", "/schedules"): Operation("Create a schedule (interval_s >= 60 or a cron expression, UTC)", gw.ScheduleIn, gw.ScheduleOut, 201),
    ("GET", "/schedules/{schedule_id}"): Operation("Read a schedule", response=gw.ScheduleOut),
    ("PUT", "/schedules/{schedule_id}"): Operation("Update fields of a schedule", gw.SchedulePatch, gw.ScheduleOut),
    ("DELETE", "/schedules/{schedule_id}"): Operation("Delete a schedule", status=204),
    ("POST", "/events/proxmox"): Operation("Hookscript event or PVE notification (API key, or hook signature / secret); 202", status=202,
                                           query={"endpoint": {"type": "string", "description": "a notification's endpoint, by name or id"}}),
    ("POST", "/proxmox/endpoints/{endpoint_id}/hook-secret"): Operation("New hook secret for an endpoint, shown once", status=201),
    ("DELETE", "/proxmox/endpoints/{endpoint_id}/hook-secret"): Operation("Turn hook events off for an endpoint", status=204),
    ("POST", "/sync/individual"): Operation("Sync one guest by endpoint id and vmid, or by NetBox VM id", gw.SyncGuestIn, gw.GuestAcceptedOut, 202),
    ("POST", "/sync/individual/vm"): Operation("Sync one guest by endpoint id and vmid, or by NetBox VM id", gw.SyncGuestIn, gw.GuestAcceptedOut, 202),
    ("GET", "/sync/individual/vm"): Operation("The plugin's Sync now: one guest by cluster_name, node, type, vmid (query)", response=gw.PluginGuestOut, status=202, query={
        "cluster_name*": {"type": "string", "minLength": 1, "maxLength": 255}, "node": {"type": "string", "maxLength": 255},
        "type": {"type": "string", "enum": ["qemu", "lxc"]}, "vmid*": {"type": "integer", "minimum": 100, "maximum": 999_999_999},
        **ENDPOINT_IDS}),
    ("GET", "/sync/individual/vm/{cluster_name}/{node}/{type}/{vmid}"): Operation("The plugin's Sync now, named in the path", response=gw.PluginGuestOut, status=202),
    ("GET", "/sync/active"): Operation("Runs in flight across all processes", response=gw.SyncActiveOut),
    ("GET", "/runs"): Operation("Runs, newest first (limit, offset, status)", response=gw.RunsOut, query={
        "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
        "offset": {"type": "integer", "minimum": 0, "maximum": 10_000_000, "default": 0},
        "status": {"type": "string", "enum": [s.value for s in RunStatus]}}),
    ("GET", "/runs/{run_id}"): Operation("One run with its live counters", response=gw.RunOut),
    ("DELETE", "/runs/{run_id}"): Operation("Cancel a run (workers stop taking its messages)", response=gw.CancelOut, status=202),
    ("GET", "/cache"): Operation("NetBox GET cache summary"),
    ("GET", "/cache/metrics"): Operation("NetBox GET cache counters (flat JSON)"),
    ("GET", "/cache/metrics/prometheus"): Operation("NetBox GET cache counters (Prometheus)", media="text/plain"),
    ("POST", "/clear-cache"): Operation("Clear the NetBox GET cache (all, or ?endpoint=)",
                                        query={"endpoint": {"type": "string", "description": "a NetBox URL"}}),
    ("GET", "/runs/{run_id}/events"): Operation("The run's events as SSE with id: lines; Last-Event-ID resumes", media=SSE,
                                                query={"last_event_id": {"type": "string", "description": "as the Last-Event-ID header"}}),
}


#: Query parameters of the plugin's stage streams (its overwrite flags and sync modes are ignored).
STAGE_QUERY = ENDPOINT_IDS
OPERATIONS.update({
    ("GET", path): Operation(f"The plugin's {sync_type} stage: start or join its run and stream it (plugin SSE framing)",
                             media=SSE, query=STAGE_QUERY)
    for path, sync_type in STAGE_STREAMS.items()
})  # fmt: skip
OPERATIONS.update({
    ("GET", path): Operation(f"The plugin's {sync_type} stage for one NetBox VM: a targeted sync, streamed", media=SSE)
    for path, sync_type in VM_STAGE_STREAMS.items()
})  # fmt: skip


def _model_list() -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {gw.Detail.__name__: gw.Detail}
    for operation in OPERATIONS.values():
        for model in (operation.body, operation.response):
            if model is not None:
                seen[model.__name__] = model
    return list(seen.values())


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def build_openapi(routes: list[BaseRoute]) -> dict[str, Any]:
    models = _model_list()
    _, top = models_json_schema(
        [(model, "validation") for model in models], ref_template=REF
    )
    components = top.get("$defs", {})
    error = {"description": "Error", "content": {"application/json": {"schema": _ref(gw.Detail)}}}
    paths: dict[str, dict[str, Any]] = {}
    websockets: list[str] = []
    for route in routes:
        if isinstance(route, WebSocketRoute):
            websockets.append(route.path)
            continue
        if not isinstance(route, Route):
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            operation = OPERATIONS.get((method, route.path), Operation(route.path))
            item: dict[str, Any] = {"summary": operation.summary, "responses": {}}
            params = [
                {"name": name, "in": "path", "required": True,
                 "schema": {"type": "integer" if name.endswith("_id") and name != "run_id" else "string"}}
                for name in route.param_convertors
            ]  # fmt: skip
            params += [
                {"name": name.rstrip("*"), "in": "query", "required": name.endswith("*"), "schema": schema}
                for name, schema in operation.query.items()
            ]
            if params:
                item["parameters"] = params
            if operation.body is not None:
                item["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(operation.body)}}}  # fmt: skip
            ok: dict[str, Any] = {"description": "OK"}
            if operation.response is not None:
                schema: dict[str, Any] = _ref(operation.response)
                if operation.list_of:
                    schema = {"type": "array", "items": schema}
                ok["content"] = {operation.media: {"schema": schema}}
            elif operation.status != 204:
                ok["content"] = {operation.media: {}}
            item["responses"][str(operation.status)] = ok
            for status in ("401", "404", "409", "413", "422", "429", "503"):
                item["responses"].setdefault(status, error)
            if route.path in PUBLIC_PATHS:
                item["security"] = []
            paths.setdefault(route.path, {})[method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "proxbox-mq gateway",
            "version": __version__,
            "description": "WebSockets (first frame {\"api_key\": ...}, close 4001 on failure): "
            + ", ".join(websockets),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": HEADER}},
        },
        "security": [{"apiKey": []}],
    }

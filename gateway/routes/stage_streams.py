"""The plugin's stage streams: ``GET <stage path>/stream``, one per sync type and endpoint.

netbox-proxbox runs a sync as a sequence of SSE requests, one per stage and Proxmox
endpoint (``?proxmox_endpoint_ids=N``), each ending with one ``complete`` frame. Here a
stage request starts (or joins, when the same one is in flight: the plugin retries a
stage up to twice) a run of that stage and relays it in the plugin's framing. The
per-VM variants (``…/{vm_id}/…``, a NetBox VM id) stream a targeted sync of that guest.
Stages proxbox-mq does not write yet answer at once: ``complete`` with ``ok: true`` and
``result.skipped``, so the plugin's run goes on. Other query parameters (overwrite
flags, sync modes) are accepted and ignored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.bodies import path_int, query_id_list
from gateway.guest_lookup import guest_of_netbox_vm
from gateway.routes.streams import plugin_stream
from gateway.run_desk import RunDesk
from gateway.sse import plugin_frame, sse_response
from shared.sync.stages import NOT_SYNCED

Endpoint = Callable[[Request], Awaitable[Response]]
VMS = "/virtualization/virtual-machines"
#: Stage stream path -> the plugin's sync type (its ``sync_types.py`` table).
STAGE_STREAMS: dict[str, str] = {
    "/dcim/devices/create/stream": "devices",
    f"{VMS}/storage/create/stream": "storage",
    f"{VMS}/create/stream": "virtual-machines",
    f"{VMS}/task-history/create/stream": "task-history",
    f"{VMS}/virtual-disks/create/stream": "vm-disks",
    f"{VMS}/backups/all/create/stream": "vm-backups",
    f"{VMS}/snapshots/all/create/stream": "vm-snapshots",
    "/dcim/devices/interfaces/create/stream": "network-interfaces",
    f"{VMS}/interfaces/create/stream": "vm-interfaces",
    f"{VMS}/interfaces/ip-address/create/stream": "ip-addresses",
    "/proxmox/sdn/create/stream": "sdn",
    "/proxmox/replication/stream": "replications",
    "/proxmox/cluster/backup/stream": "backup-routines",
}
#: Per-VM stage streams (``vm_id`` is the NetBox VM's id) -> sync type.
VM_STAGE_STREAMS: dict[str, str] = {
    f"{VMS}/{{vm_id}}/create/stream": "virtual-machines",
    f"{VMS}/{{vm_id}}/virtual-disks/create/stream": "vm-disks",
    f"{VMS}/{{vm_id}}/backups/create/stream": "vm-backups",
    f"{VMS}/{{vm_id}}/snapshots/create/stream": "vm-snapshots",
}


def _done_at_once(request: Request, sync_type: str, message: str) -> Response:
    """A stream with nothing to follow: one ``step``, then ``complete`` (ok)."""

    async def frames() -> AsyncIterator[bytes]:
        yield plugin_frame("step", {"step": sync_type, "status": "completed", "message": message})
        yield plugin_frame("complete", {"ok": True, "message": message,
                                        "result": {"skipped": sync_type}, "errors": []})  # fmt: skip

    return sse_response(frames(), request.app.state.settings.sse_keepalive_s)


def _not_synced(request: Request, sync_type: str) -> Response:
    return _done_at_once(request, sync_type, f"stage {sync_type} is not synced by proxbox-mq yet: nothing to do")


def stage_stream(sync_type: str) -> Endpoint:
    async def stream(request: Request) -> Response:
        """One stage for the endpoints in ``proxmox_endpoint_ids`` (all when absent)."""
        if sync_type in NOT_SYNCED:
            return _not_synced(request, sync_type)
        endpoint_ids = query_id_list(request, "proxmox_endpoint_ids", "endpoint_ids")
        desk: RunDesk = request.app.state.runs
        started = await desk.call(desk.start_run, endpoint_ids, [sync_type])
        verb = "joined the running" if started.joined else "queued"
        return plugin_stream(request, started.run_id, sync_type, f"{verb} {sync_type} run {started.run_id}")

    return stream


def vm_stage_stream(sync_type: str) -> Endpoint:
    async def stream(request: Request) -> Response:
        """One guest, named by its NetBox VM id: a targeted sync of it (state and details)."""
        if sync_type in NOT_SYNCED:
            return _not_synced(request, sync_type)
        state = request.app.state
        target = await guest_of_netbox_vm(state.sessions, state.secrets, path_int(request, "vm_id"))
        desk: RunDesk = state.runs
        run_id, coalesced = await desk.call(desk.sync_guest, target.endpoint_id, target.vmid, "plugin")
        if run_id is None:  # folded into a sync that is just starting: nothing of ours to follow
            return _done_at_once(request, sync_type, f"a sync of guest {target.vmid} is already under way")
        verb = "joined the queued" if coalesced else "queued"
        return plugin_stream(request, run_id, sync_type, f"{verb} sync of guest {target.vmid} ({run_id})")

    return stream


# Literal paths first: ".../storage/create/stream" must not be taken for a vm_id.
routes: list[BaseRoute] = [
    *(Route(path, stage_stream(sync_type), methods=["GET"]) for path, sync_type in STAGE_STREAMS.items()),
    *(Route(path, vm_stage_stream(sync_type), methods=["GET"]) for path, sync_type in VM_STAGE_STREAMS.items()),
]

"""Helpers for the sync engine's end-to-end tests: endpoints, worker processes, runs, NetBox reads."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from shared.broker import build_broker
from shared.db.engine import build_engine, build_sessionmaker
from shared.db.models import NetBoxEndpoint, ProxmoxEndpoint, RunStatus, SyncRun, TokenVersion
from shared.keys import Keys
from shared.messages import PLAN_RUN, SYNC_GUEST, StartRun, SyncGuest, send
from shared.redis_client import sync_client
from shared.runs import RunLedger, child_message_id
from shared.settings import Settings, load_settings
from shared.sync.endpoints import seal
from tests.conftest import settings_env

FINISHED = {RunStatus.SUCCEEDED, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.CANCELLED}
VM_FIELDS = "id,name,status,cluster,device,role,vcpus,memory,disk,description,comments,tags,custom_fields,site"


def sync_settings(base: Settings, **overrides: Any) -> Settings:
    return load_settings(**{**base.model_dump(), **overrides})


def add_netbox_endpoint(settings: Settings, url: str, token_v2: str) -> int:
    key, _, secret = token_v2.partition(".")
    host, _, port = url.removeprefix("http://").partition(":")
    with build_sessionmaker(build_engine(settings)).begin() as session:
        row = NetBoxEndpoint(name="netbox", ip_address=host, port=int(port or 80), verify_ssl=False,
                             token_version=TokenVersion.V2, token_key_enc=seal(settings, key),
                             token_enc=seal(settings, secret) or "")  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def add_proxmox_endpoint(settings: Settings, sim: Any, **extra: Any) -> int:
    """A Proxmox endpoint row for a simulator endpoint (token auth, self-signed TLS)."""
    with build_sessionmaker(build_engine(settings)).begin() as session:
        row = ProxmoxEndpoint(name=sim.name, ip_address=sim.host, port=sim.port, username=sim.user,
                              token_name=sim.token_name, token_value_enc=seal(settings, sim.token_secret),
                              verify_ssl=False, timeout=10, max_retries=1, **extra)  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log_path: str

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def log_tail(self) -> str:
        with open(self.log_path, "rb") as handle:
            return handle.read()[-4000:].decode(errors="replace")


@contextlib.contextmanager
def worker_process(settings: Settings, tmp_path: Any, *, threads: int = 4, name: str = "w") -> Iterator[Worker]:
    """A real ``proxbox-mq worker`` process (own process group, so kill -9 takes its children)."""
    log_path = str(tmp_path / f"worker-{name}-{uuid.uuid4().hex[:6]}.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "worker", "--processes", "1", "--threads", str(threads)],
            env=settings_env(settings), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    worker = Worker(process, log_path)
    try:
        yield worker
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()


def start_run(
    settings: Settings, endpoint_ids: list[int] | None = None, stages: list[str] | None = None
) -> str:
    """What the gateway does for ``/full-update``: row, ledger, PLAN_RUN with its message id."""
    run_id = uuid.uuid4().hex
    kind = "endpoints" if endpoint_ids else "full"
    _open(settings, run_id, kind, child_message_id(run_id, "plan"))
    payload = StartRun(run_id=run_id, kind=kind, endpoint_ids=endpoint_ids, stages=stages)
    _send(settings, PLAN_RUN, payload, child_message_id(run_id, "plan"))
    return run_id


def start_guest_sync(settings: Settings, endpoint_id: int, vmid: int) -> str | None:
    """What the gateway does for ``/sync/individual``: coalesce with SET NX, else queue."""
    client = sync_client(settings)
    try:
        run_id = uuid.uuid4().hex
        if not client.set(Keys(settings.redis_prefix).guest_queued(endpoint_id, vmid), run_id, nx=True, px=300_000):
            return None
    finally:
        client.close()
    message_id = child_message_id(run_id, "guest", endpoint_id, vmid)
    _open(settings, run_id, "guests", message_id)
    _send(settings, SYNC_GUEST, SyncGuest(endpoint_id=endpoint_id, vmid=vmid, run_id=run_id), message_id)
    return run_id


def _open(settings: Settings, run_id: str, kind: str, message_id: str) -> None:
    with build_sessionmaker(build_engine(settings)).begin() as session:
        session.add(SyncRun(id=run_id, kind=kind, scope={}, status=RunStatus.QUEUED))
    client = sync_client(settings)
    try:
        RunLedger(client, Keys(settings.redis_prefix)).open(run_id, kind=kind, first_message_id=message_id)
    finally:
        client.close()


def _send(settings: Settings, spec: Any, payload: Any, message_id: str) -> None:
    broker = build_broker(settings, confirm_delivery=True)
    try:
        send(broker, spec, payload, settings, message_id=message_id)
    finally:
        broker.close()


def wait_run(settings: Settings, run_id: str, worker: Worker | None = None, timeout: float = 180) -> SyncRun:
    sessions = build_sessionmaker(build_engine(settings))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sessions() as session:
            row = session.get(SyncRun, run_id)
            if row is not None and row.status in FINISHED:
                return row
        if worker is not None and worker.process.poll() is not None:
            raise AssertionError(f"worker exited early:\n{worker.log_tail()}")
        time.sleep(0.2)
    tail = worker.log_tail() if worker else ""
    raise AssertionError(f"run {run_id} did not finish in {timeout} s\n{tail}")


def netbox_vms(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 1000, "offset": 0, "fields": VM_FIELDS, **params}
    while True:
        page = client.get("/virtualization/virtual-machines/", params=query).json()
        found += page["results"]
        if not page.get("next"):
            return found
        query["offset"] += len(page["results"])


def netbox_count(client: httpx.Client, path: str) -> int:
    """How many objects a NetBox list holds (one light page)."""
    return int(client.get(path, params={"limit": 1, "brief": 1}).json()["count"])


def write_count(client: httpx.Client) -> int:
    """Rows in NetBox's change log: every create, update and delete leaves one."""
    return netbox_count(client, "/core/object-changes/")


def run_events(settings: Settings, run_id: str) -> list[dict[str, Any]]:
    import json

    client = sync_client(settings)
    try:
        entries = client.xrange(Keys(settings.redis_prefix).run_events(run_id))
    finally:
        client.close()
    return [json.loads(fields[b"e"]) for _, fields in entries]

"""Hook event -> NetBox updated: latency of the event path with a synced estate.

    python -m bench.hook_latency --guests 1000 --samples 20

Syncs a simulated estate into the real NetBox test bed once, points the simulator's
hookscript at a `proxbox-mq gateway` process (signed with the endpoint's hook
secret), then, one sample at a time, starts or stops a guest through the Proxmox
API and measures until NetBox shows the guest's new status. The baseline, measured
in the same run: an unchanged full re-sync (what a change costs without events).
Resets the test bed's database first (it is a throw-away NetBox).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.first_sync import bench_settings, timed_run
from shared.crypto import SecretBox
from shared.db.engine import build_engine, build_sessionmaker
from shared.db.models import ProxmoxEndpoint
from tests.conftest import delete_queues, delete_redis_keys
from tests.e2e.sync_support import add_netbox_endpoint, add_proxmox_endpoint, worker_process
from tests.integration.gateway_support import spawn_gateway, wait_serving
from tests.netbox_testbed.settings import TestbedSettings
from tests.netbox_testbed.testbed import reset, up
from tests.pvesim.server import Simulator
from tests.pvesim.spec import estate_from_counts

WANTED = {"start": "active", "stop": "offline"}


def netbox_status(nb: httpx.Client, vmid: int) -> str | None:
    page = nb.get(
        "/virtualization/virtual-machines/", params={"cf_proxmox_vm_id": vmid, "fields": "status"}
    )
    results = page.json()["results"]
    return str(results[0]["status"]["value"]) if results else None


def sample(sim: Any, nb: httpx.Client, vmid: int, timeout: float = 120) -> float:
    guest = sim.guest(vmid)
    action = "stop" if guest.status == "running" else "start"
    kind = "qemu" if guest.kind == "qemu" else "lxc"
    started = time.perf_counter()
    getattr(getattr(sim.proxmox().nodes(guest.node), kind)(vmid).status, action).post()
    while time.perf_counter() - started < timeout:
        if netbox_status(nb, vmid) == WANTED[action]:
            return time.perf_counter() - started
        time.sleep(0.05)
    raise TimeoutError(f"guest {vmid}: NetBox did not show {WANTED[action]} within {timeout} s")


def start_gateway(settings: Any, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    log = open(tmp / "gateway.log", "wb")  # lives as long as the process
    process, url = spawn_gateway(settings, log)
    wait_serving(url)
    return process, url


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guests", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    testbed = TestbedSettings.from_env()
    info = up(testbed)
    reset(testbed)
    sim = Simulator(estate_from_counts(1, args.nodes, args.guests, seed=11)).start()
    endpoint = sim[0]
    hook_secret = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        settings = bench_settings(tmp, args.threads)
        add_netbox_endpoint(settings, info.url, info.token_v2)
        endpoint_id = add_proxmox_endpoint(settings, endpoint)
        with build_sessionmaker(build_engine(settings)).begin() as session:
            row = session.get(ProxmoxEndpoint, endpoint_id)
            assert row is not None
            row.hook_secret_enc = SecretBox.from_settings(settings).encrypt(hook_secret)
        gateway, url = start_gateway(settings, tmp)
        headers = {"Authorization": f"Bearer {info.token_v2}"}
        try:
            with worker_process(settings, tmp, threads=args.threads) as worker, \
                    httpx.Client(base_url=f"{info.url}/api", headers=headers, timeout=60) as nb:  # fmt: skip
                first = timed_run(settings, worker)
                resync = timed_run(settings, worker)
                endpoint.set_hook_url(
                    f"{url}/events/proxmox", endpoint=endpoint.name, secret=hook_secret
                )
                # Locked guests (a backup running) refuse power changes, as on a real node.
                candidates = [g.vmid for g in endpoint.guests() if not g.template and not g.lock][: args.samples]
                try:
                    latencies = [sample(endpoint, nb, vmid) for vmid in candidates]
                except TimeoutError:
                    print(
                        "hooks sent:",
                        endpoint.hooks_sent[-4:],
                        "errors:",
                        endpoint.runtime.hooks.errors[-4:],
                    )
                    print((tmp / "gateway.log").read_text()[-3000:], worker.log_tail())
                    raise
        finally:
            gateway.terminate()
            gateway.wait(timeout=20)
            sim.stop()
            delete_redis_keys(settings)
            delete_queues(settings)
    print(json.dumps({
        "guests": args.guests, "samples": len(latencies), "cores": os.cpu_count(),
        "command": f"python -m bench.hook_latency --guests {args.guests} --samples {args.samples}",
        "first_sync_s": first["seconds"], "unchanged_resync_s": resync["seconds"],
        "hook_to_netbox_p50_s": round(statistics.median(latencies), 2),
        "hook_to_netbox_p99_s": round(percentile(latencies, 0.99), 2),
        "hook_to_netbox_max_s": round(max(latencies), 2),
        "of_which_coalescing_delay_s": 2.0,
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())

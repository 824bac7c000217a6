"""First sync and unchanged re-sync of a simulated estate into the real NetBox test bed.

    python -m bench.first_sync --guests 100
    python -m bench.first_sync --guests 1000

Measures, in one run: first sync wall time, unchanged re-sync wall time, the NetBox
requests each made (the engine's own tally in the SyncRun record), NetBox writes
(change-log rows), the worker process's peak RSS (VmHWM), and NetBox's own floor:
list-POSTing the same number of bare VMs straight to the API (chunks of 200), and the
floor for every object the first sync created (VMs, interfaces, MACs, IPs, disks:
``bench.objects_floor``).
Resets the test bed's database first (it is a throw-away NetBox).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from bench.objects_floor import objects_floor
from shared.db.migrate import upgrade
from shared.netbox.cache import NetBoxGetCache
from shared.settings import Settings, load_settings
from tests.conftest import BROKER_URL, REDIS_URL, delete_queues, delete_redis_keys
from tests.e2e.sync_support import (
    add_netbox_endpoint,
    add_proxmox_endpoint,
    start_run,
    wait_run,
    worker_process,
    write_count,
)
from tests.netbox_testbed.settings import TestbedSettings
from tests.netbox_testbed.testbed import reset, up
from tests.pvesim.server import Simulator
from tests.pvesim.spec import estate_from_counts

FLOOR_CHUNK = 200


def bench_settings(tmp: Path, threads: int) -> Settings:
    tag = uuid.uuid4().hex[:8]
    settings = load_settings(
        broker_url=BROKER_URL, redis_url=REDIS_URL, database_url=f"sqlite:///{tmp / 'bench.sqlite3'}",
        redis_prefix=f"pbxbench-{tag}", queue_prefix=f"pbxbench-{tag}.",
        encryption_key=Fernet.generate_key().decode(), worker_threads=threads,
    )  # fmt: skip
    upgrade(settings)
    return settings


def peak_rss_mb(root_pid: int) -> dict[int, float]:
    """VmHWM of the dramatiq worker processes (children of the CLI's main process)."""
    children = subprocess.run(["pgrep", "-P", str(root_pid)], capture_output=True, text=True).stdout.split()
    peaks = {}
    for pid in [int(p) for p in children] or [root_pid]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = int(line.split()[1]) / 1024
    return peaks


def timed_run(settings: Settings, worker: Any) -> dict[str, Any]:
    started = time.perf_counter()
    row = wait_run(settings, start_run(settings), worker, timeout=1800)
    seconds = time.perf_counter() - started
    requests = (row.timings or {}).get("requests", {})
    return {"status": row.status.value, "seconds": round(seconds, 2), "requests": requests,
            "netbox_requests": sum(n for k, n in requests.items() if k.startswith("netbox:")),
            "counts": row.counts, "errors": row.error_summary}  # fmt: skip


def netbox_floor(client: httpx.Client, guests: int) -> float:
    """Seconds NetBox takes to bulk-create ``guests`` bare VMs (the write floor), then cleans up."""
    ctype = client.post("/virtualization/cluster-types/", json={"name": "floor", "slug": "floor"}).json()
    cluster = client.post("/virtualization/clusters/", json={"name": "floor", "type": ctype["id"]}).json()
    bodies = [{"name": f"floor-{i:05d}", "cluster": cluster["id"], "status": "active", "vcpus": 2,
               "memory": 2048} for i in range(guests)]  # fmt: skip
    ids: list[int] = []
    started = time.perf_counter()
    for start in range(0, guests, FLOOR_CHUNK):
        answer = client.post("/virtualization/virtual-machines/", json=bodies[start : start + FLOOR_CHUNK])
        answer.raise_for_status()
        ids += [vm["id"] for vm in answer.json()]
    seconds = time.perf_counter() - started
    for start in range(0, len(ids), 500):
        client.request("DELETE", "/virtualization/virtual-machines/",
                       json=[{"id": i} for i in ids[start : start + 500]]).raise_for_status()  # fmt: skip
    client.delete(f"/virtualization/clusters/{cluster['id']}/")
    client.delete(f"/virtualization/cluster-types/{ctype['id']}/")
    return round(seconds, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guests", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--no-floor", action="store_true", help="skip NetBox's floors (e.g. cache on/off runs)")
    args = parser.parse_args()

    testbed = TestbedSettings.from_env()
    info = up(testbed)
    reset(testbed)
    sim = Simulator(estate_from_counts(1, args.nodes, args.guests, seed=7)).start()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        settings = bench_settings(tmp, args.threads)
        add_netbox_endpoint(settings, info.url, info.token_v2)
        add_proxmox_endpoint(settings, sim[0])
        headers = {"Authorization": f"Bearer {info.token_v2}"}
        try:
            with worker_process(settings, tmp, threads=args.threads) as worker, \
                    httpx.Client(base_url=f"{info.url}/api", headers=headers, timeout=600) as nb:  # fmt: skip
                writes_before = write_count(nb)
                first = timed_run(settings, worker)
                writes_first = write_count(nb) - writes_before
                second = timed_run(settings, worker)
                writes_second = write_count(nb) - writes_before - writes_first
                rss = peak_rss_mb(worker.process.pid)
                stats = NetBoxGetCache.from_settings(settings).stats()
                # The engine's tally counts GETs it asked for; a cache hit never reaches NetBox.
                cache = {"hits": stats.hits, "misses_reaching_netbox": stats.misses}
                floor = 0.0 if args.no_floor else netbox_floor(nb, args.guests)
                objects = {"total": 0.0} if args.no_floor else objects_floor(nb, first["counts"] or {})
        finally:
            sim.stop()
            delete_redis_keys(settings)
            delete_queues(settings)
    print(json.dumps({
        "guests": args.guests, "first": first, "first_writes": writes_first, "resync": second,
        "resync_writes": writes_second, "cache_over_both_runs": cache, "worker_peak_rss_mb": rss, "netbox_floor_s": floor,
        "first_over_floor": round(first["seconds"] / floor, 2) if floor else None,
        "objects_floor_s": objects,
        "first_over_objects_floor": round(first["seconds"] / objects["total"], 2) if objects["total"] else None,
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())

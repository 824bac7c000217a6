"""How fast the Proxmox VE simulator answers, next to NetBox's time for one page of VMs.

Run: ``.venv/bin/python -m bench.pvesim [--guests 1000 10000] [--samples 50]``.

For each estate size the simulator runs as its own process (``python -m tests.pvesim``,
one cluster of ``--nodes`` nodes), and the client (httpx, one keep-alive connection,
token auth, gzip as proxmoxer asks for it) measures:

* start-up: process spawn until its credentials line is printed and ``/version`` answers;
* ``/cluster/resources`` cold: each call follows an estate change (a guest renamed
  through ``/_sim``), so the answer is rebuilt and re-serialised, not served from cache;
* ``/cluster/resources`` warm: repeated calls within one RRD interval;
* a guest config read (``/nodes/{node}/qemu/{vmid}/config``, random guests).

Baseline (issue 3): NetBox's ``GET /api/virtualization/virtual-machines/?limit=50``.
If the NetBox test bed is running (``python -m tests.netbox_testbed up``) it is
measured in the same run; otherwise the reference figure from
``shared/reference/real-peers.md`` §1.3 is printed, labelled as not measured.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

NETBOX_REFERENCE_MS = 142.0  # real-peers.md §1.3: median, NetBox 4.7.3, 2 vCPU, 50 samples
NETBOX_PAGE = "/api/virtualization/virtual-machines/?limit=50"


@dataclass
class Row:
    what: str
    p50_ms: float
    p99_ms: float
    samples: int
    note: str = ""


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p99 * 1000


def timed(call: Callable[[], httpx.Response]) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    reply = call()
    elapsed = time.perf_counter() - started
    reply.raise_for_status()
    return elapsed, reply


def start_simulator(guests: int, nodes: int, port: int) -> tuple[subprocess.Popen[str], dict[str, Any], float]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.pvesim", "--port", str(port), "--clusters", "1",
         "--nodes", str(nodes), "--guests", str(guests), "--seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise RuntimeError(f"pvesim did not start (port {port} taken?)")
    creds: dict[str, Any] = json.loads(line)
    with httpx.Client(verify=False, timeout=30) as probe:
        probe.get(f"https://{creds['host']}:{creds['port']}/api2/json/version",
                  headers=auth(creds)).raise_for_status()
    return process, creds, time.perf_counter() - started


def auth(creds: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"PVEAPIToken={creds['token_id']}={creds['token_secret']}"}


def bench_simulator(guests: int, nodes: int, port: int, samples: int) -> list[Row]:
    process, creds, startup = start_simulator(guests, nodes, port)
    rows = [Row(f"{guests:,} guests: start-up (spawn to first answer)", startup * 1000,
                startup * 1000, 1)]
    base = f"https://{creds['host']}:{creds['port']}"
    try:
        with httpx.Client(base_url=base + "/api2/json", verify=False, timeout=60,
                          headers=auth(creds)) as client:
            first, reply = timed(lambda: client.get("/cluster/resources"))
            size = len(reply.content)
            entries = len(reply.json()["data"])
            rows.append(Row(f"{guests:,} guests: /cluster/resources first call", first * 1000,
                            first * 1000, 1, f"{entries:,} entries, {size / 1e6:.1f} MB JSON"))
            cold = []
            for i in range(max(5, samples // 2)):
                client.patch(f"{base}/_sim/guests/100", json={"name": f"bench{i}"}
                             ).raise_for_status()
                cold.append(timed(lambda: client.get("/cluster/resources"))[0])
            rows.append(Row(f"{guests:,} guests: /cluster/resources cold (after a change)",
                            *percentiles(cold), len(cold)))
            warm = [timed(lambda: client.get("/cluster/resources"))[0] for _ in range(samples)]
            rows.append(Row(f"{guests:,} guests: /cluster/resources warm", *percentiles(warm),
                            len(warm)))
            vms = [r for r in reply.json()["data"] if r["type"] == "qemu"]
            rng = random.Random(1)
            config = []
            for _ in range(samples * 4):
                vm = rng.choice(vms)
                path = f"/nodes/{vm['node']}/qemu/{vm['vmid']}/config"
                config.append(timed(lambda path=path: client.get(path))[0])
            rows.append(Row(f"{guests:,} guests: qemu config read", *percentiles(config),
                            len(config)))
    finally:
        process.terminate()
        process.wait(timeout=15)
    return rows


def bench_netbox(samples: int) -> Row:
    from tests.netbox_testbed import testbed

    status = testbed.status()
    if not status.get("healthy"):
        return Row("NetBox: one page of 50 VMs (REFERENCE, not measured)", NETBOX_REFERENCE_MS,
                   251.0, 50, "real-peers.md §1.3 (p95, not p99); no test bed running")
    info = testbed.up()  # healthy: returns its url and tokens without starting anything
    headers = {"Authorization": f"Bearer {info.token_v2}", "Accept": "application/json"}
    with httpx.Client(base_url=info.url, headers=headers, timeout=60) as client:
        count = client.get(NETBOX_PAGE).raise_for_status().json()["count"]
        times = [timed(lambda: client.get(NETBOX_PAGE))[0] for _ in range(samples)]
    return Row("NetBox: one page of 50 VMs (measured, test bed)", *percentiles(times),
               len(times), f"{count} VMs in that NetBox; page holds {min(count, 50)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--guests", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--port", type=int, default=18406)
    args = parser.parse_args()
    rows: list[Row] = []
    for guests in args.guests:
        rows += bench_simulator(guests, args.nodes, args.port, args.samples)
    rows.append(bench_netbox(args.samples))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"pvesim benchmark, {now}, {os.cpu_count()} cores (os.cpu_count()), "
          f"Python {sys.version.split()[0]}")
    print("command: .venv/bin/python -m bench.pvesim " + " ".join(sys.argv[1:]))
    print()
    print("| what | p50 ms | p99 ms | samples | note |")
    print("|---|---:|---:|---:|---|")
    for row in rows:
        print(f"| {row.what} | {row.p50_ms:.1f} | {row.p99_ms:.1f} | {row.samples} | {row.note} |")


if __name__ == "__main__":
    main()

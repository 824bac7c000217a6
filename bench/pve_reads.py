"""A sync's Proxmox reads alone: every guest's config and addresses, as one batch reads them.

    python -m bench.pve_reads --guests 1000 --rounds 3

Against the simulator (in this process, HTTPS on loopback), with the client the engine
uses (``shared.proxmox.client``) and its TLS context shared across reconnects, and, as
the baseline in the same run, the same client with requests' default adapter (a new
context, CA store loaded, per connection). PVE closes the connection after every error
answer, so each guest whose agent is configured but not answering costs a reconnect.
Rounds alternate baseline and shared; the figures are the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

from requests.adapters import HTTPAdapter

from shared.proxmox.client import ProxmoxClient, ProxmoxCredentials
from shared.sync.discover import discover
from shared.sync.guest_read import read_guest
from tests.pvesim.server import Simulator
from tests.pvesim.spec import estate_from_counts


def client_for(sim: Any, shared_context: bool) -> ProxmoxClient:
    user, token_name = sim.token_id.split("!", 1)
    client = ProxmoxClient(ProxmoxCredentials(
        endpoint_id=1, name=sim.name, host=sim.host, port=sim.port, user=user, password=None,
        token_name=token_name, token_value=sim.token_secret, verify_ssl=False, timeout_s=30,
        attempts=1, backoff_s=0.1,
    ))  # fmt: skip
    if not shared_context:  # the baseline: what the session had before the shared context
        client._connect()._store["session"].mount("https://", HTTPAdapter())
    return client


def one_round(sim: Any, shared_context: bool) -> dict[str, float]:
    client = client_for(sim, shared_context)
    refs = discover(client).guests
    wall, cpu = time.perf_counter(), time.process_time()
    reads = [read_guest(client, ref) for ref in refs]
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
            "requests": client.requests, "guests": len(reads),
            "address_failures": sum(1 for r in reads if r.address_note and "not read:" in r.address_note)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sim = Simulator(estate_from_counts(1, 4, args.guests, seed=7)).start()
    try:
        runs: dict[str, list[dict[str, float]]] = {"baseline": [], "shared": []}
        for _ in range(args.rounds):
            runs["baseline"].append(one_round(sim[0], shared_context=False))
            runs["shared"].append(one_round(sim[0], shared_context=True))
    finally:
        sim.stop()
    summary = {
        name: {key: round(statistics.median(r[key] for r in rounds), 3) for key in rounds[0]}
        for name, rounds in runs.items()
    }  # fmt: skip
    print(json.dumps({"command": f"python -m bench.pve_reads --guests {args.guests} --rounds {args.rounds}",
                      "cores": os.cpu_count(), **summary}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()

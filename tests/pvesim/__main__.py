"""CLI: `python -m tests.pvesim --port 8006 [--estate FILE | --clusters C --nodes N --guests G]`.

Cluster k listens on port+k. One JSON line per endpoint goes to stdout
(`name, host, port, user, password, token_id, token_secret`), then it serves
until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

from .runtime import Settings
from .server import Simulator
from .spec import DEFAULT_VERSION, estate_from_counts, load_estate_file


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.pvesim",
                                     description="Simulated Proxmox VE endpoints over HTTPS")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (loopback)")
    parser.add_argument("--port", type=int, default=8006, help="port of the first cluster")
    parser.add_argument("--estate", help="estate spec file (JSON, or YAML with PyYAML)")
    parser.add_argument("--clusters", type=int, default=1)
    parser.add_argument("--nodes", type=int, default=3, help="nodes per cluster")
    parser.add_argument("--guests", type=int, default=20, help="guests per cluster")
    parser.add_argument("--standalone", type=int, default=0,
                        help="extra single-node endpoints without a cluster")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pve-version", default=DEFAULT_VERSION,
                        help="simulated pve-manager version (e.g. 8.3.2, 9.1.4)")
    parser.add_argument("--task-seconds", type=float, default=1.0,
                        help="how long a worker task runs")
    parser.add_argument("--auth-delay", type=float, default=0.0,
                        help="delay on failed auth (real PVE: 3 s)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    if args.estate:
        estate = load_estate_file(args.estate)
    else:
        estate = estate_from_counts(args.clusters, args.nodes, args.guests, args.seed,
                                    args.pve_version, args.standalone)
    settings = Settings(task_duration=args.task_seconds, auth_failure_delay=args.auth_delay)
    sim = Simulator(estate, host=args.host, base_port=args.port, settings=settings).start()
    for endpoint in sim.endpoints:
        print(json.dumps(endpoint.credentials()), flush=True)
    guests = sum(len(c.guests) for c in estate.clusters)
    print(f"pvesim: {len(sim.endpoints)} endpoint(s), {guests} guests, ready in "
          f"{time.monotonic() - started:.2f} s; Ctrl-C to stop", file=sys.stderr, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m tests.netbox_testbed up|down|reset|status``.

``up`` prints one JSON line ``{"url": ..., "token_v1": ..., "token_v2": ...}`` on stdout;
every progress message goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import testbed
from .settings import TestbedError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.netbox_testbed", description="A real NetBox for proxbox-mq tests."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start NetBox (or find it running); print the JSON line")
    sub.add_parser("down", help="stop the gunicorn started by `up`")
    sub.add_parser("reset", help="give the running NetBox a clean database")
    sub.add_parser("status", help="print what is installed and running as JSON")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            print(json.dumps(testbed.up().as_json()), flush=True)
        elif args.command == "down":
            stopped = testbed.down()
            print("stopped" if stopped else "not running", file=sys.stderr)
        elif args.command == "reset":
            seconds = testbed.reset()
            print(f"reset in {seconds:.2f}s", file=sys.stderr)
        else:
            print(json.dumps(testbed.status()), flush=True)
    except TestbedError as exc:
        print(f"netbox-testbed: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

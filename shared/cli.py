"""The ``proxbox-mq`` command: gateway, worker, migrate, run.

It starts the gateway and the workers by module name (uvicorn factory
``gateway.app:main_app``, dramatiq broker module ``workers.app``), so ``shared``
still imports neither side.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from shared import __version__
from shared.errors import ConfigurationError
from shared.settings import Settings, get_settings

GATEWAY_FACTORY = "gateway.app:main_app"
WORKER_BROKER_MODULE = "workers.app"
#: Seconds ``run`` waits for children to stop after Ctrl-C before killing them.
STOP_GRACE_S = 15.0


def gateway_command(host: str, port: int, trusted_proxies: str = "") -> list[str]:
    """uvicorn for the gateway; ``X-Forwarded-For`` is believed only from ``trusted_proxies``
    (the client address drives the API-key failure throttle, so it must not be spoofable)."""
    proxies = ["--proxy-headers", "--forwarded-allow-ips", trusted_proxies] if trusted_proxies \
        else ["--no-proxy-headers"]  # fmt: skip
    return [
        sys.executable, "-m", "uvicorn", GATEWAY_FACTORY, "--factory",
        "--host", host, "--port", str(port), *proxies,
    ]  # fmt: skip


def worker_command(processes: int, threads: int) -> list[str]:
    return [
        sys.executable, "-m", "dramatiq", WORKER_BROKER_MODULE,
        "--processes", str(processes), "--threads", str(threads),
    ]  # fmt: skip


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from shared.db.migrate import upgrade

    upgrade(settings)
    print(f"database at head: {settings.database_url}", file=sys.stderr)
    return 0


def cmd_gateway(settings: Settings, args: argparse.Namespace) -> int:
    os.execv(sys.executable, gateway_command(args.host, args.port, settings.trusted_proxies))


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    os.execv(sys.executable, worker_command(args.processes, args.threads))


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """One host: migrate, then gateway and workers together; Ctrl-C stops all."""
    cmd_migrate(settings, args)
    children = [
        subprocess.Popen(gateway_command(args.host, args.port, settings.trusted_proxies)),
        subprocess.Popen(worker_command(args.processes, args.threads)),
    ]
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"proxbox-mq running: gateway http://{args.host}:{args.port}/ (Ctrl-C stops)",
          file=sys.stderr)  # fmt: skip
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    failed = [child.returncode for child in children if child.returncode not in (0, -15, None)]
    return 0 if stopping or not failed else 1


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="proxbox-mq", description="proxbox-mq: Proxmox VE to NetBox sync over RabbitMQ"
    )
    parser.add_argument("--version", action="version", version=f"proxbox-mq {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def add_gateway_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default=settings.gateway_host)
        p.add_argument("--port", type=int, default=settings.gateway_port)

    def add_worker_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--processes", "-p", type=int, default=settings.worker_processes)
        p.add_argument("--threads", "-t", type=int, default=settings.worker_threads)

    gateway = commands.add_parser("gateway", help="serve the HTTP gateway (uvicorn)")
    add_gateway_options(gateway)
    gateway.set_defaults(handler=cmd_gateway)

    worker = commands.add_parser("worker", help="run Dramatiq workers over RabbitMQ")
    add_worker_options(worker)
    worker.set_defaults(handler=cmd_worker)

    migrate = commands.add_parser("migrate", help="upgrade the database to the newest schema")
    migrate.set_defaults(handler=cmd_migrate)

    run = commands.add_parser("run", help="migrate, then gateway and workers on this host")
    add_gateway_options(run)
    add_worker_options(run)
    run.set_defaults(handler=cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = get_settings()
    except ConfigurationError as exc:
        print(f"proxbox-mq: {exc}", file=sys.stderr)
        return 2
    args = build_parser(settings).parse_args(argv)
    result: int = args.handler(settings, args)
    return result


if __name__ == "__main__":
    sys.exit(main())

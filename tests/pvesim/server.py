"""Runs every endpoint of an estate over HTTPS in one process, one uvicorn per thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from .app import build_app
from .estate import Estate
from .handle import SimEndpoint
from .runtime import ClusterRuntime, Settings
from .tls import CertFiles, make_self_signed

_cert_lock = threading.Lock()
_process_cert: CertFiles | None = None


def process_cert() -> CertFiles:
    """One self-signed certificate per process, made on first use."""
    global _process_cert
    with _cert_lock:
        if _process_cert is None:
            _process_cert = make_self_signed()
        return _process_cert


class _ServerThread:
    def __init__(self, app: Any, host: str, port: int, cert: CertFiles) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, ssl_certfile=cert.certfile, ssl_keyfile=cert.keyfile,
            http="h11",  # reason phrases are routed through the h11 protocol's table
            lifespan="off", log_level="warning", access_log=False,
            timeout_keep_alive=30, server_header=False,  # we send pve-api-daemon's own
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True,
                                       name=f"pvesim-{port}")

    def start(self, timeout: float = 10.0) -> int:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("pvesim: uvicorn did not start (port in use?)")
            time.sleep(0.005)
        sockets = self.server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    def stop(self) -> None:
        # Idle keep-alive clients (a proxmoxer session is never closed) would hold a
        # graceful TLS shutdown for up to 30 s. A node going away is abrupt anyway, so
        # abort open connections (no close_notify) and let uvicorn finish cleanly.
        self.server.should_exit = True
        for conn in list(self.server.server_state.connections):
            transport = getattr(conn, "transport", None)
            if transport is not None:
                conn.loop.call_soon_threadsafe(transport.abort)
        self.thread.join(timeout=10)


class _TaskClock:
    """Finishes due tasks on its own, as a node's worker processes do: a guest started through
    the API is running (and its hookscript has fired) a task-duration later, whether or not
    anyone reads the simulator in between."""

    INTERVAL_S = 0.05

    def __init__(self, runtimes: list[ClusterRuntime]) -> None:
        self._runtimes = runtimes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pvesim-task-clock", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.INTERVAL_S):
            for rt in self._runtimes:
                if rt.tasks.running():
                    rt.advance()


class Simulator:
    """All endpoints of one estate. `base_port=0` picks free ports (tests);
    otherwise cluster k listens on base_port + k (the CLI)."""

    def __init__(self, estate: Estate, host: str = "127.0.0.1", base_port: int = 0,
                 settings: Settings | None = None) -> None:
        self.estate = estate
        self.host = host
        self.base_port = base_port
        self.runtimes = [
            ClusterRuntime(c, seed=estate.seed, settings=Settings(**vars(settings or Settings())))
            for c in estate.clusters
        ]
        self.endpoints: list[SimEndpoint] = []
        self._threads: list[_ServerThread] = []
        self._clock = _TaskClock(self.runtimes)

    def start(self) -> Simulator:
        cert = process_cert()
        try:
            for k, rt in enumerate(self.runtimes):
                port = self.base_port + k if self.base_port else 0
                thread = _ServerThread(build_app(rt), self.host, port, cert)
                self._threads.append(thread)
                actual = thread.start()
                self.endpoints.append(SimEndpoint(rt, self.host, actual))
            self._clock.start()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._clock.stop()
        for thread in self._threads:
            thread.stop()
        self._threads.clear()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __getitem__(self, index: int) -> SimEndpoint:
        return self.endpoints[index]

    def endpoint(self, name: str) -> SimEndpoint:
        return next(e for e in self.endpoints if e.name == name)

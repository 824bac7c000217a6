"""Prometheus metrics of one gateway process, and the pure-ASGI middleware that feeds them.

Each app gets its own registry (tests build many apps in one process). Request
latency is measured to the response start, so a stream that stays open for an
hour counts as the fast request it is, and is counted in ``open_streams`` instead.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "proxbox_gateway_requests", "HTTP requests by route template, method and status",
            ["route", "method", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "proxbox_gateway_request_seconds", "Time to response start, by route template",
            ["route", "method"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )  # fmt: skip
        self.open_streams = Gauge(
            "proxbox_gateway_open_streams", "Progress streams open now, by transport",
            ["transport"], registry=self.registry,
        )  # fmt: skip
        self.runs = Gauge(
            "proxbox_runs", "Sync runs in the database by status (read at scrape time)",
            ["status"], registry=self.registry,
        )  # fmt: skip
        self.active_runs = Gauge(
            "proxbox_runs_active", "Runs in flight (the ledger's active set)", registry=self.registry
        )
        self.hub_clients = Gauge(
            "proxbox_gateway_hub_clients", "Clients subscribed to live progress", registry=self.registry
        )
        self.hub_dropped = Gauge(
            "proxbox_gateway_hub_dropped_clients",
            "Clients cut off the live feed for being slow (they catch up from the stream)",
            registry=self.registry,
        )


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "<unmatched>"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                self.metrics.latency.labels(route_template(scope), scope["method"]).observe(
                    time.perf_counter() - started
                )
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            self.metrics.requests.labels(route_template(scope), scope["method"], str(status)).inc()

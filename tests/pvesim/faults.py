"""On-demand misbehaviour (latency, errors, timeouts) and per-path request counting."""

from __future__ import annotations

import fnmatch
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from itertools import count
from typing import Any

_rule_ids = count(1)


@dataclass
class FaultRule:
    """Matches `METHOD path` (path relative to /api2/json, shell-style glob).

    `status` 0 means "no error, only latency". 595/596 answer with an empty body
    like pveproxy's proxy errors; other statuses use the PVE error envelope.
    `remaining` limits how many requests the rule hits (None = forever); `rate`
    is the probability a matching request is hit (seeded, so reproducible).
    """

    path: str = "*"
    method: str = "*"
    status: int = 0
    message: str = ""
    latency: float = 0.0
    rate: float = 1.0
    remaining: int | None = None
    rule_id: int = field(default_factory=lambda: next(_rule_ids))

    def matches(self, method: str, path: str) -> bool:
        return fnmatch.fnmatchcase(method, self.method.upper()) and fnmatch.fnmatchcase(
            path, self.path
        )

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.rule_id, "path": self.path, "method": self.method,
                "status": self.status, "message": self.message, "latency": self.latency,
                "rate": self.rate, "remaining": self.remaining}


DEFAULT_MESSAGES = {
    500: "internal error",
    595: "No route to host",
    596: "Connection timed out",
    503: "Service Unavailable",
}


class FaultInjector:
    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._rng = random.Random(f"faults:{seed}")
        self.latency = 0.0  # added to every API request

    def add(self, rule: FaultRule) -> FaultRule:
        if rule.status and not rule.message:
            rule.message = DEFAULT_MESSAGES.get(rule.status, "simulated failure")
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule_id: int) -> None:
        with self._lock:
            self._rules = [r for r in self._rules if r.rule_id != rule_id]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.latency = 0.0

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def pick(self, method: str, path: str) -> tuple[float, FaultRule | None]:
        """Total extra latency and the error rule (if any) for this request."""
        delay = self.latency
        hit: FaultRule | None = None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                if rule.remaining is not None and rule.remaining <= 0:
                    continue
                if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                delay += rule.latency
                if rule.status and hit is None:
                    hit = rule
        return delay, hit


class RequestCounter:
    """Counts `METHOD path` (path relative to /api2/json) of every API request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def hit(self, method: str, path: str) -> None:
        with self._lock:
            self._counts[(method, path)] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f"{m} {p}": n for (m, p), n in sorted(self._counts.items())}

    def count(self, path: str = "*", method: str = "*") -> int:
        """Requests whose path matches the glob, e.g. `/nodes/*/qemu/*/config`."""
        with self._lock:
            items = list(self._counts.items())
        return sum(
            n for (m, p), n in items
            if fnmatch.fnmatchcase(m, method.upper()) and fnmatch.fnmatchcase(p, path)
        )

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

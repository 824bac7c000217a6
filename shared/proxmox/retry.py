"""Capped exponential back-off with full jitter, and which upstream failures are transient."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: HTTP statuses worth another try: throttled, server trouble, Proxmox's "node unreachable".
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 595, 596})
#: Proxmox answers 500 for some permanent conditions; retrying them only wastes time.
PERMANENT_500_MARKERS = ("does not exist", "not running", "no qemu guest agent", "not configured")


def backoff_s(attempt: int, base_s: float, cap_s: float) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)] (AWS architecture blog)."""
    return random.uniform(0, min(cap_s, base_s * (2**attempt)))


def call_with_retries(
    call: Callable[[], T],
    *,
    attempts: int,
    is_transient: Callable[[BaseException], bool],
    base_s: float = 0.5,
    cap_s: float = 8.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, retried on transient errors; the last error propagates."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:
            if attempt + 1 >= attempts or not is_transient(exc):
                raise
            sleep(backoff_s(attempt, base_s, cap_s))
    raise AssertionError("unreachable")  # attempts >= 1 always returns or raises


def transient_status(status: int | None, message: str = "") -> bool:
    if status is None or status not in TRANSIENT_STATUSES:
        return False
    if status == 500:
        lowered = message.lower()
        return not any(marker in lowered for marker in PERMANENT_500_MARKERS)
    return True

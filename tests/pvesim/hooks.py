"""Hookscript emulation: POST `{vmid, phase, ...}` to a configured URL.

A real hookscript runs on the node at pre-start/post-start/pre-stop/post-stop;
the usual deployment is a tiny script that pushes the event to an HTTP
receiver, which is what we emulate. Delivery is fire-and-forget from a daemon
thread (a slow receiver must not stall the API, as it must not stall a VM
start), and every attempt is recorded so tests can wait for it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

PHASES = ("pre-start", "post-start", "pre-stop", "post-stop")


@dataclass
class HookEmitter:
    url: str | None = None
    #: When set, events are sent as ``contrib/proxbox-hook`` sends them: naming this
    #: proxbox-mq endpoint and signed with its hook secret (HMAC over "timestamp.body").
    endpoint: str | None = None
    secret: str | None = None
    timeout: float = 3.0
    sent: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def emit(self, *, cluster: str, node: str, vmid: int, kind: str, phase: str,
             migrated_from: str | None = None) -> None:
        if self.url is None:
            return
        payload: dict[str, Any] = {"vmid": vmid, "phase": phase, "node": node, "type": kind,
                                   "cluster": cluster, "ts": int(time.time())}
        if migrated_from:
            payload["migrated_from"] = migrated_from  # PVE_MIGRATED_FROM in the real env
        if self.endpoint:
            payload["endpoint"] = self.endpoint
        url = self.url
        thread = threading.Thread(target=self._post, args=(url, payload), daemon=True)
        thread.start()

    def _post(self, url: str, payload: dict[str, Any]) -> None:
        try:
            body = json.dumps(payload).encode()
            with httpx.Client(verify=False, timeout=self.timeout) as client:
                client.post(url, content=body, headers=self._headers(body))
            with self._lock:
                self.sent.append(payload)
        except httpx.HTTPError as exc:  # receiver down: a real hookscript just logs it
            with self._lock:
                self.errors.append(f"{payload['vmid']} {payload['phase']}: {exc}")

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.secret:
            timestamp = int(time.time())
            mac = hmac.new(self.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
            headers["X-Proxbox-Timestamp"] = str(timestamp)
            headers["X-Proxbox-Signature"] = "sha256=" + mac.hexdigest()
        return headers

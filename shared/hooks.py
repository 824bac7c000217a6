"""Events from Proxmox: hookscript events, notification-webhook bodies, and their signatures.

Hookscripts sign what they send: ``X-Proxbox-Timestamp: <unix seconds>`` and
``X-Proxbox-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``,
with the per-endpoint hook secret. The gateway refuses an unsigned, mis-signed
or stale event (timestamp outside :data:`MAX_SKEW_S`), and a signature it has
already seen (replay). PVE's notification webhooks cannot compute an HMAC; they
send the secret itself in ``X-Proxbox-Hook-Secret`` (a webhook ``secret``
rendered into a header), compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.errors import AuthError

TIMESTAMP_HEADER = "X-Proxbox-Timestamp"
SIGNATURE_HEADER = "X-Proxbox-Signature"
SECRET_HEADER = "X-Proxbox-Hook-Secret"
SIGNATURE_SCHEME = "sha256="
#: How far a hook's clock may be from ours (seconds); older or newer events are refused.
MAX_SKEW_S = 300
#: Largest hook or notification body accepted (bytes).
MAX_BODY_BYTES = 64 * 1024
#: A row of a vzdump notification's Details table (``VMID  Name  Status  Time ...``).
_DETAILS_ROW = re.compile(r"^\s*(\d{3,9})\s+\S")
#: A replication job id: ``<vmid>-<job number>``.
_REPLICATION_JOB = re.compile(r"^(\d{3,9})-\d+$")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_SCHEME + mac.hexdigest()


def verify_signature(
    secret: str, timestamp_header: str | None, signature_header: str | None, body: bytes,
    *, now: float | None = None,
) -> int:  # fmt: skip
    """Check a signed hook request; returns its timestamp. Raises :class:`AuthError` saying why."""
    if not timestamp_header or not signature_header:
        raise AuthError(f"unsigned event: {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required")
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        raise AuthError(f"{TIMESTAMP_HEADER} must be unix seconds") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > MAX_SKEW_S:
        raise AuthError(
            f"stale event: timestamp is more than {MAX_SKEW_S} s from the gateway's clock"
        )
    if not hmac.compare_digest(sign(secret, timestamp, body), signature_header.strip()):
        raise AuthError("bad signature")
    return timestamp


def verify_shared_secret(secret: str, presented: str | None) -> None:
    if not presented or not hmac.compare_digest(secret.encode(), presented.encode()):
        raise AuthError(f"missing or wrong {SECRET_HEADER}")


class HookEvent(BaseModel):
    """What ``contrib/proxbox-hook`` sends for a guest's power transition."""

    model_config = ConfigDict(extra="ignore")

    endpoint: Annotated[str, Field(min_length=1, max_length=255)]
    node: Annotated[
        str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")
    ]
    vmid: Annotated[int, Field(ge=100, le=999_999_999)]
    phase: Literal["pre-start", "post-start", "pre-stop", "post-stop"]
    type: Literal["qemu", "lxc"] | None = None
    #: Set by PVE on the migration target's pre-start (``PVE_MIGRATED_FROM``).
    migrated_from: str | None = None

    @field_validator("endpoint", mode="before")
    @classmethod
    def _endpoint_as_text(cls, value: Any) -> Any:
        # Hooks may name the endpoint by id; ids and names are both looked up as text.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Notification(BaseModel):
    """A PVE notification-webhook body rendered from the recommended template (PVE 8.3+)."""

    model_config = ConfigDict(extra="ignore")

    title: Annotated[str, Field(max_length=4096)] = ""
    message: Annotated[str, Field(max_length=MAX_BODY_BYTES)] = ""
    severity: Literal["info", "notice", "warning", "error", "unknown"] = "info"
    timestamp: int | None = None
    fields: dict[str, str] = Field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``vzdump``, ``replication``, ``fencing``, ... (the ``type`` metadata field)."""
        return self.fields.get("type", "unknown")

    @property
    def hostname(self) -> str | None:
        return self.fields.get("hostname")

    @property
    def vmids(self) -> list[int]:
        """The guests the notification is about, where its body says (sorted, unique).

        vzdump: the VMID column of the message's Details table (one row per guest
        backed up); replication: the guest of ``job-id`` (``<vmid>-<n>``). Others
        (fencing) name a node, not guests: empty.
        """
        if self.kind == "replication":
            found = _REPLICATION_JOB.match(self.fields.get("job-id", ""))
            return [int(found.group(1))] if found else []
        if self.kind != "vzdump":
            return []
        lines = self.message.splitlines()
        header = next((i for i, line in enumerate(lines) if line.split()[:1] == ["VMID"]), None)
        if header is None:
            return []
        table = itertools.takewhile(str.strip, lines[header + 1 :])  # the table ends at a blank line
        rows = (_DETAILS_ROW.match(line) for line in table)
        return sorted({int(row.group(1)) for row in rows if row})

"""Hook signatures: a good one passes; unsigned, mis-signed and stale ones say why."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.errors import AuthError
from shared.hooks import HookEvent, Notification, sign, verify_shared_secret, verify_signature

BODY = b'{"endpoint":"pve-lab","node":"pve1","vmid":101,"phase":"post-start"}'
NOW = 1_800_000_000


def test_a_signed_event_verifies() -> None:
    assert verify_signature("s", str(NOW), sign("s", NOW, BODY), BODY, now=NOW + 10) == NOW


@pytest.mark.parametrize(
    ("timestamp", "signature", "body", "reason"),
    [
        (None, None, BODY, "unsigned"),
        (str(NOW), sign("other", NOW, BODY), BODY, "bad signature"),
        (str(NOW), sign("s", NOW, BODY), BODY + b" ", "bad signature"),
        (str(NOW - 301), sign("s", NOW - 301, BODY), BODY, "stale"),
        (str(NOW + 301), sign("s", NOW + 301, BODY), BODY, "stale"),
        ("yesterday", "sha256=00", BODY, "unix seconds"),
    ],
)
def test_bad_signatures_are_refused_with_a_reason(
    timestamp: str | None, signature: str | None, body: bytes, reason: str
) -> None:
    with pytest.raises(AuthError, match=reason):
        verify_signature("s", timestamp, signature, body, now=NOW)


def test_shared_secret_header_is_compared_exactly() -> None:
    verify_shared_secret("token", "token")
    for presented in (None, "", "token2", "Token"):
        with pytest.raises(AuthError):
            verify_shared_secret("token", presented)


def test_hook_events_validate_their_fields() -> None:
    event = HookEvent.model_validate(
        {"endpoint": 3, "node": "pve1", "vmid": 101, "phase": "post-stop"}
    )
    assert event.endpoint == "3"
    for bad in ({"vmid": 5}, {"phase": "reboot"}, {"node": "pve 1"}, {"type": "kvm"}):
        with pytest.raises(ValidationError):
            HookEvent.model_validate(
                {"endpoint": "e", "node": "pve1", "vmid": 101, "phase": "pre-start", **bad}
            )


def test_notifications_expose_type_and_hostname() -> None:
    note = Notification.model_validate(
        {
            "title": "t",
            "severity": "error",
            "timestamp": NOW,
            "fields": {"hostname": "pve3", "type": "fencing"},
        }  # fmt: skip
    )
    assert (note.kind, note.hostname) == ("fencing", "pve3")


VZDUMP_MESSAGE = """Details
=======
VMID    Name          Status    Time     Size           Filename
101     db01          ok        12s      1.2 GiB        local:backup/vzdump-qemu-101-2026_11_29-02_00_03.vma.zst
2050    web-frontend  err       3s       0 B            null
101     db01          ok        12s      1.2 GiB        (listed twice: counted once)

Total running time: 15s
Total size: 1.2 GiB

Logs
====
vzdump 101 2050 --storage local --mode snapshot
"""


@pytest.mark.parametrize(
    ("kind", "message", "fields", "vmids"),
    [
        ("vzdump", VZDUMP_MESSAGE, {}, [101, 2050]),
        ("vzdump", "backup failed before any guest ran", {}, []),
        ("replication", "Replication Job: '100-0' failed", {"job-id": "100-0"}, [100]),
        ("replication", "odd job id", {"job-id": "local-7"}, []),
        ("fencing", "Successfully fenced node 'pve3'", {"hostname": "pve3"}, []),
    ],
)
def test_a_notification_names_the_guests_its_body_lists(
    kind: str, message: str, fields: dict[str, str], vmids: list[int]
) -> None:
    note = Notification(title="t", message=message, fields={"type": kind, **fields})
    assert note.vmids == vmids

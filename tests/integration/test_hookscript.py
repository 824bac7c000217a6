"""contrib/proxbox-hook sends a signed event the gateway can verify, and never fails a guest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.hooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, HookEvent, verify_signature

SCRIPT = Path(__file__).resolve().parents[2] / "contrib" / "proxbox-hook"

pytestmark = pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("openssl") is None,
    reason="the hookscript needs curl and openssl, as on a Proxmox node",
)


class Recorder(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, dict(self.headers), body))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, dict[str, str], bytes]]]]:
    Recorder.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", Recorder.received
    server.shutdown()
    server.server_close()


def run_hook(conf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PROXBOX_HOOK_CONF=str(conf))
    return subprocess.run(
        ["sh", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=10
    )


def write_conf(path: Path, url: str) -> Path:
    path.write_text(
        f"PROXBOX_URL={url}\nPROXBOX_ENDPOINT=pve-lab\nPROXBOX_SECRET=s3cret\nPROXBOX_TIMEOUT=2\n"
    )
    return path


def wait_for(received: list[object], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)


def test_the_hook_posts_a_signed_event(tmp_path: Path, receiver: tuple[str, list]) -> None:  # type: ignore[type-arg]
    url, received = receiver
    result = run_hook(write_conf(tmp_path / "hook.conf", url), "101", "post-start")
    assert result.returncode == 0
    wait_for(received)
    [(path, headers, body)] = received
    assert path == "/events/proxmox"
    verify_signature("s3cret", headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body)
    event = HookEvent.model_validate(json.loads(body))
    assert (event.endpoint, event.vmid, event.phase) == ("pve-lab", 101, "post-start")


@pytest.mark.parametrize(
    "args", [("101", "pre-start"), ("abc", "post-start"), ("101", "explode"), ()]
)
def test_the_hook_exits_0_even_when_nothing_listens_or_input_is_bad(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    # Port 9 (discard) on loopback: nothing listens, the POST fails
    started = time.monotonic()
    result = run_hook(write_conf(tmp_path / "hook.conf", "http://127.0.0.1:9"), *args)
    assert result.returncode == 0
    assert time.monotonic() - started < 2  # the guest's start is never held up


def test_the_hook_without_config_sends_nothing_and_exits_0(tmp_path: Path) -> None:
    result = run_hook(tmp_path / "missing.conf", "101", "post-stop")
    assert result.returncode == 0

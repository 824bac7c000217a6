"""Redis-backed limiters shared by every worker, and the Proxmox client against the simulator."""

from __future__ import annotations

import ssl
import threading
import time
import warnings
from typing import Any

import pytest
import redis
from dramatiq.rate_limits.backends import RedisBackend

from shared.db.engine import build_engine, build_sessionmaker
from shared.errors import ProxmoxError
from shared.events import Publisher
from shared.keys import Keys
from shared.netbox.cache import NetBoxGetCache
from shared.proxmox.client import ProxmoxClient, ProxmoxCredentials, TransientProxmoxError
from shared.redis_client import sync_client
from shared.runs import RunLedger
from shared.settings import Settings
from shared.sync.discover import discover
from tests.e2e.sync_support import sync_settings
from workers.sync_runtime import Runtime, SlotBusy


def build_runtime(settings: Settings, client: redis.Redis) -> Runtime:
    keys = Keys(settings.redis_prefix)
    return Runtime(settings, client, keys, RunLedger(client, keys), Publisher(client, keys),
                   build_sessionmaker(build_engine(settings)), NetBoxGetCache(client, settings),
                   RedisBackend(client=sync_client(settings, blocking=True)))  # fmt: skip


def test_a_limit_of_two_admits_two_holders_across_runtimes_and_the_third_waits(
    settings: Settings, redis_client: redis.Redis
) -> None:
    tight = sync_settings(settings, sync_slot_wait_s=0.3)
    first, second = build_runtime(tight, redis_client), build_runtime(tight, redis_client)
    inside, peak, lock = [0], [0], threading.Lock()

    def hold(rt: Runtime) -> None:
        with rt.slot("proxmox:1", 2):
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            time.sleep(1.0)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=hold, args=(rt,)) for rt in (first, second)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while peak[0] < 2 and time.monotonic() < deadline:  # both holders inside
        time.sleep(0.01)
    with pytest.raises(SlotBusy):  # both slots taken for longer than the in-process wait
        with first.slot("proxmox:1", 2):
            pass
    for thread in threads:
        thread.join()
    assert peak[0] == 2
    with second.slot("proxmox:1", 2):  # released: free again
        pass


def credentials(sim: Any, attempts: int = 3) -> ProxmoxCredentials:
    return ProxmoxCredentials(endpoint_id=1, name=sim.name, host=sim.host, port=sim.port, user=sim.user,
                              password=None, token_name=sim.token_name, token_value=sim.token_secret,
                              verify_ssl=False, timeout_s=5, attempts=attempts, backoff_s=0.01)  # fmt: skip


def test_the_proxmox_client_retries_transient_failures_and_reads_the_estate(pve: Any) -> None:
    pve.inject_fault(path="/cluster/resources", status=596, times=2)
    client = ProxmoxClient(credentials(pve))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # without the plugin's loopback filter: ours must suffice
        found = discover(client)
    assert len(found.guests) == len(pve.guests())
    assert pve.request_count("/cluster/resources") == 3


def test_a_permanent_proxmox_error_is_not_retried(pve: Any) -> None:
    pve.inject_fault(path="/cluster/status", status=403, message="Permission check failed")
    client = ProxmoxClient(credentials(pve))
    with pytest.raises(ProxmoxError) as caught:
        discover(client)
    assert not isinstance(caught.value, TransientProxmoxError) and caught.value.status == 403
    assert pve.request_count("/cluster/status") == 1


def test_connections_reopened_after_error_answers_share_one_tls_context(
    pve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an endpoint without certificate checks, and a count of CA stores loaded
    loaded: list[int] = []
    original = ssl.SSLContext.load_default_certs

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loaded.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", counting)
    client = ProxmoxClient(credentials(pve, attempts=1))
    stopped = next(g for g in pve.guests() if g.kind == "qemu" and g.status == "stopped")
    # When PVE answers errors, each closing the connection (as it does), and then a good read
    for _ in range(5):
        with pytest.raises(ProxmoxError, match="not running"):
            client.get(f"nodes/{stopped.node}/qemu/{stopped.vmid}/agent/network-get-interfaces")
    client.get("version")
    # Then every new connection reused one context: no CA store was loaded per connection
    assert pve.request_count("/nodes/*", "GET") == 5
    assert loaded == []

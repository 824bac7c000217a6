"""pytest fixtures for the real NetBox test bed.

Register with ``pytest_plugins = ["tests.netbox_testbed.pytest_plugin"]`` or
``-p tests.netbox_testbed.pytest_plugin``.

* ``netbox_testbed`` (session): starts NetBox once per session, or reuses one already running
  and healthy; stops it at the end only if this session started it (and
  ``PROXBOX_NETBOX_KEEP`` is not set). If it cannot start, every test using it FAILS with the
  reason; it is never skipped.
* ``netbox`` (function): for tests that write; resets to a clean database first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .handle import NetBoxHandle
from .settings import TestbedError, TestbedSettings
from .testbed import down, up

# A cold start (pip install, and `migrate` without a dump) takes minutes: the first test that
# needs the test bed gets this timeout instead of the suite's per-test one.
SETUP_TIMEOUT_ENV = "PROXBOX_NETBOX_SETUP_TIMEOUT"


@pytest.hookimpl(trylast=True)  # after -m/-k deselection: mark the first test that really runs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("timeout"):
        return
    seconds = int(os.environ.get(SETUP_TIMEOUT_ENV, "") or 1800)
    for item in items:
        if "netbox_testbed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(seconds))
            return


@pytest.fixture(scope="session")
def netbox_testbed() -> Iterator[NetBoxHandle]:
    """The session's NetBox; read-only tests may use it directly."""
    settings = TestbedSettings.from_env()
    try:
        info = up(settings)
    except TestbedError as exc:
        pytest.fail(f"the NetBox test bed could not be started: {exc}", pytrace=False)
    handle = NetBoxHandle(info.url, info.token_v1, info.token_v2, settings)
    try:
        yield handle
    finally:
        handle.close_clients()
        if info.started and not os.environ.get("PROXBOX_NETBOX_KEEP"):
            down(settings)


@pytest.fixture
def netbox(netbox_testbed: NetBoxHandle) -> Iterator[NetBoxHandle]:
    """The session's NetBox with a clean database (a fresh copy of the template)."""
    try:
        netbox_testbed.reset()
    except TestbedError as exc:
        pytest.fail(f"the NetBox test bed could not be reset: {exc}", pytrace=False)
    try:
        yield netbox_testbed
    finally:
        netbox_testbed.close_clients()

"""A real NetBox (PyPI ``netbox`` 4.7.x under gunicorn) for proxbox-mq's tests.

See README.md in this directory. Entry points: :func:`up`, :func:`down`, :func:`reset`,
:func:`status`, the CLI ``python -m tests.netbox_testbed`` and the pytest plugin
``tests.netbox_testbed.pytest_plugin``.
"""

from .settings import TestbedError, TestbedSettings
from .testbed import TestbedInfo, down, reset, status, up

__all__ = ["TestbedError", "TestbedInfo", "TestbedSettings", "down", "reset", "status", "up"]

"""The worker entry point: ``dramatiq workers.app`` (what ``proxbox-mq worker`` runs).

Importing this module installs the broker built from settings as Dramatiq's
global broker, then imports every actor module so their actors declare on it.
"""

from __future__ import annotations

from shared.broker import install_broker
from shared.logs import configure_logging
from shared.settings import get_settings

settings = get_settings()
configure_logging(settings)
broker = install_broker(settings)

# Actor modules register on the broker above when imported; keep them after it.
from workers import control, sync  # noqa: E402

__all__ = ["broker", "control", "sync"]

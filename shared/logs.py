"""Logging set-up: plain text or JSON lines, by setting."""

from __future__ import annotations

import json
import logging
from typing import Any

from shared.settings import Settings

#: Record attributes that are the logging machinery's own, not context we add.
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with any ``extra=`` context (run id, endpoint) kept."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler()
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # pika logs a dropped idle connection (missed heartbeats on a publish-only connection)
    # at ERROR with a traceback, although dramatiq reconnects and the publish succeeds; a
    # publish that really fails raises, and we log that ourselves.
    logging.getLogger("pika").setLevel(logging.CRITICAL)

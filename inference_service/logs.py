"""JSON log lines that always carry the environment id and the model digest.

The digest is unknown until the model loads; lines before that say ``"-"``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_context: dict[str, str] = {"environment_id": "-", "model_digest": "-"}
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
SERVICE_LOGGERS = ("inference_service", "uvicorn", "uvicorn.error")
# Whether requests are logged is the server's choice (``--access-log``; uvicorn's
# ``--no-access-log`` leaves this logger without handlers and cut off from its parent).
ACCESS_LOGGER = "uvicorn.access"


def set_log_context(**values: str) -> None:
    """Set fields added to every later log line (environment_id, model_digest)."""
    _context.update(values)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, and any ``extra=``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context,
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """Route the service's and uvicorn's loggers through one JSON handler on stderr.

    The access logger is only re-formatted, never switched on: with access logging off it has no
    handlers and does not propagate, and it stays so; on, it either propagates to ``uvicorn``
    (this handler) or has uvicorn's own handler, which this one replaces.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in SERVICE_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
        if logger.level == logging.NOTSET or name == "inference_service":
            logger.setLevel(level)
    access = logging.getLogger(ACCESS_LOGGER)
    if access.handlers:
        access.handlers[:] = [handler]

"""How every backupwatch process logs: lines for a person (`text`), or one JSON object a
line for a log pipeline (`json`, BACKUPWATCH_LOG_FORMAT).

In JSON, Faust's and mode's own lines are objects too: a worker hands
`logging_config(...)` to Faust's `Worker`, which would otherwise replace the root
handlers with its coloured ones. Python's warnings and an uncaught exception are
logged the same way, so nothing else reaches stderr as plain text.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import orjson

__all__ = ["JsonFormatter", "configure", "is_json", "logging_config", "say"]

TEXT_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"

log = logging.getLogger(__name__)
# What `configure` chose, for `say`.
_format = {"current": "text"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, process,
    and `error` with the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def logging_config(level: str, log_format: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` document: the root logger at `level`, to stderr."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level.upper(), "handlers": ["default"]},
    }


def _log_uncaught(
    kind: type[BaseException], error: BaseException, traceback: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    logging.getLogger("backupwatch").critical("uncaught", exc_info=(kind, error, traceback))


def is_json() -> bool:
    return _format["current"] == "json"


def say(message: str, level: int = logging.INFO) -> None:
    """A line for the person at the terminal (progress, a refusal): on stderr as it is,
    or, when logs are JSON, a log record like every other line."""
    if is_json():
        logging.getLogger("backupwatch").log(level, message)
    else:
        print(message, file=sys.stderr, flush=True)


def configure(level: str, log_format: str) -> None:
    """Set up the process's logging; for `json`, warnings and uncaught exceptions too."""
    _format["current"] = log_format
    logging.config.dictConfig(logging_config(level, log_format))
    if log_format == "json":
        logging.captureWarnings(True)
        sys.excepthook = _log_uncaught

"""Log output for the worker and the CLI: human text (default) or one JSON object per line.

JSON is for log shippers (Filebeat, Vector, Loki): each record is an object with ``time``,
``level``, ``logger``, ``message`` and whatever the caller passed in ``extra=`` — so an
agent that logs ``extra={"stage": "enrich", "n": 32}`` gets queryable fields, not text
to parse.  Credentials never reach a log line through here: ``SecretStr`` values render
masked, and nothing in newsflow logs a ``Settings`` field that is a secret.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message", "asctime", "taskName",
}

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record; exceptions go in ``exc_info`` as formatted text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def logging_config(*, fmt: LogFormat, level: str | int = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict: one stderr handler on the root logger."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if fmt == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"newsflow": formatter},
        "handlers": {
            "newsflow": {
                "class": "logging.StreamHandler",
                "formatter": "newsflow",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level if isinstance(level, int) else level.upper(),
                 "handlers": ["newsflow"]},
    }


def configure_logging(*, fmt: LogFormat, level: str | int = "WARNING") -> None:
    """Install the handler for a CLI run (the worker passes ``logging_config`` to Faust)."""
    import logging.config

    logging.config.dictConfig(logging_config(fmt=fmt, level=level))

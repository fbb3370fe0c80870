"""Log output for the worker and the CLI: human text (default) or one JSON object per line.

JSON is for log shippers (Filebeat, Vector, Loki): each record is an object with ``time``,
``level``, ``logger``, ``message`` and whatever the caller passed in ``extra=`` — so an
agent that logs ``extra={"stage": "enrich", "n": 32}`` gets queryable fields, not text
to parse.  Credentials never reach a log line through here: ``SecretStr`` values render
masked, and nothing in newsflow logs a ``Settings`` field that is a secret.

A command's output is its result: on the CLI only newsflow's own warnings reach stderr,
and libraries' records (kafka-python, the Elasticsearch transport, ...) go to a log file
(``<home>/logs/cli.log``).  Records a library logs at too high a level for what they mean
here are demoted to DEBUG wherever they are logged (``quiet_libraries``).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message", "asctime", "taskName",
}

# (logger, message prefix) of library records that are expected here, not warnings:
# kafka-python cannot decode the member metadata of Faust's own partition assignor, which
# every ``describe_groups`` of a worker group meets (the raw bytes follow in the message).
_EXPECTED = {
    "kafka.admin._groups": ("Unable to decode member_metadata",
                            "Unable to decode member_assignment"),
}
_OWN = "newsflow"

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


class _Demote(logging.Filter):
    """Turns records whose message starts with one of ``prefixes`` into DEBUG records."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG and str(record.msg).startswith(self.prefixes):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


class _Own(logging.Filter):
    """newsflow's records only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name == _OWN or record.name.startswith(_OWN + ".")


def quiet_libraries() -> None:
    """Demote the library records listed in ``_EXPECTED`` to DEBUG (idempotent)."""
    for name, prefixes in _EXPECTED.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Demote) for f in logger.filters):
            logger.addFilter(_Demote(prefixes))


def configure_logging(*, fmt: LogFormat, level: str | int = "WARNING",
                      log_file: Path | None = None) -> None:
    """Logging for a CLI run (the worker passes ``logging_config`` to Faust).

    Records at ``level`` and above: newsflow's go to stderr; all of them, libraries'
    included, go to ``log_file`` when one is given.
    """
    import logging.config

    # ``level`` is the root logger's; the handlers let INFO through, so a command that lowers
    # the ``newsflow`` logger's level (``feeds run`` says what it does at INFO) is heard, while
    # libraries stay at ``level`` and records demoted to DEBUG stay out.
    config = logging_config(fmt=fmt, level=level)
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    handler_level = min(numeric, logging.INFO)
    config["filters"] = {"own": {"()": f"{__name__}._Own"}}
    config["handlers"]["newsflow"]["filters"] = ["own"]
    config["handlers"]["newsflow"]["level"] = handler_level
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        config["handlers"]["file"] = {
            "class": "logging.handlers.RotatingFileHandler", "filename": str(log_file),
            "maxBytes": 1_000_000, "backupCount": 3, "encoding": "utf-8",
            "formatter": "newsflow", "level": handler_level,
        }
        config["root"]["handlers"].append("file")
    logging.config.dictConfig(config)
    quiet_libraries()

"""pipeline.operations.logs: one JSON object per line; secrets stay out of settings' repr."""

from __future__ import annotations

import io
import json
import logging
import logging.config

from pydantic import SecretStr

from pipeline.operations.logs import JsonFormatter, logging_config
from tests.support import settings_with


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("newsflow.test")
    record = logger.makeRecord("newsflow.test", logging.WARNING, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_line_has_time_level_logger_message_and_extras() -> None:
    line = JsonFormatter().format(_record("index: %d indexed", 3, stage="index", n=3))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "warning"
    assert entry["logger"] == "newsflow.test"
    assert entry["message"] == "index: 3 indexed"
    assert entry["stage"] == "index" and entry["n"] == 3
    assert entry["time"].endswith("+00:00")
    assert "args" not in entry and "msg" not in entry  # LogRecord internals stay out


def test_exception_is_one_field_and_unserialisable_extras_become_text() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        import sys

        record = _record("failed", obj=object())
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: bad" in entry["exc_info"]
    assert entry["obj"].startswith("<object object")


def test_logging_config_installs_the_json_formatter() -> None:
    stream = io.StringIO()
    config = logging_config(fmt="json", level="info")
    config["handlers"]["newsflow"]["stream"] = stream
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        logging.config.dictConfig(config)
        logging.getLogger("newsflow.x").info("hello %s", "world", extra={"stage": "enrich"})
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    entry = json.loads(stream.getvalue().strip())
    assert (entry["message"], entry["stage"]) == ("hello world", "enrich")


def test_settings_repr_and_dump_mask_every_password() -> None:
    settings = settings_with(
        es__password=SecretStr("es-pass-4b1d"),
        kafka__sasl_password=SecretStr("sasl-pass-77c2"),
        smtp__password=SecretStr("smtp-pass-90aa"),
        api__keys=[SecretStr("api-key-31f0")],
    )
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in ("es-pass-4b1d", "sasl-pass-77c2", "smtp-pass-90aa", "api-key-31f0"):
        assert secret not in shown
    assert settings.es_secret() == "es-pass-4b1d"  # still usable where it is needed

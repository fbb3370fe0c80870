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


def test_cli_logging_keeps_library_records_out_of_the_output(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from pipeline.operations.logs import configure_logging

    log_file = tmp_path / "logs" / "cli.log"
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        configure_logging(fmt="text", log_file=log_file)
        raw = b"\x00\x03\xff" * 400
        logging.getLogger("kafka.admin._groups").warning(
            f"Unable to decode member_metadata for group/{raw!r}")
        logging.getLogger("kafka.conn").warning("connection to node 1 reset")
        logging.getLogger("newsflow.status").warning("consumer group has no members")
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])
    err = capsys.readouterr().err
    assert "consumer group has no members" in err
    assert "Unable to decode" not in err and "connection to node 1 reset" not in err
    logged = log_file.read_text()
    assert "connection to node 1 reset" in logged  # a library warning: in the log
    assert "consumer group has no members" in logged
    assert "Unable to decode" not in logged  # expected with Faust groups: DEBUG

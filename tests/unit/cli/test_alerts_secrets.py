"""``newsflow alerts add`` never takes a secret from the command line (no services needed)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from agents.cli import app

pytestmark = pytest.mark.security


def test_secret_on_the_command_line_is_refused_with_a_hint() -> None:
    result = CliRunner().invoke(app, [
        "alerts", "add", "--name", "Ceuta", "--query", "Ceuta",
        "--webhook", "https://hooks.example.org/x", "--secret", "visible-in-ps-and-history",
    ])  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "--secret-file" in result.stderr and "--secret-env" in result.stderr
    assert "visible-in-ps-and-history" not in result.output


def test_secret_options_are_exclusive_and_an_unset_variable_is_named() -> None:
    both = CliRunner().invoke(app, [
        "alerts", "add", "--name", "Ceuta", "--query", "Ceuta", "--webhook",
        "https://hooks.example.org/x", "--secret-env", "A", "--prompt-secret",
    ])  # fmt: skip
    assert both.exit_code == 2 and "one of" in both.stderr
    unset = CliRunner().invoke(app, [
        "alerts", "add", "--name", "Ceuta", "--query", "Ceuta", "--webhook",
        "https://hooks.example.org/x", "--secret-env", "NEWSFLOW_TESTS_UNSET_SECRET",
    ], env={"NEWSFLOW_TESTS_UNSET_SECRET": ""})  # fmt: skip
    assert unset.exit_code == 2 and "NEWSFLOW_TESTS_UNSET_SECRET" in unset.stderr


def test_a_short_secret_from_a_file_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "secret"
    path.write_text("short\n")
    result = CliRunner().invoke(app, [
        "alerts", "add", "--name", "Ceuta", "--query", "Ceuta", "--webhook",
        "https://hooks.example.org/x", "--secret-file", str(path),
    ])  # fmt: skip
    assert result.exit_code == 2 and "at least 32 bytes" in result.stderr

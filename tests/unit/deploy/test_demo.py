"""The demo's progress line: redrawn on a terminal, one line per change anywhere else."""

from __future__ import annotations

import importlib.util
import io
from types import ModuleType

from tests.support import ROOT


def _demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo", ROOT / "deploy" / "demo" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(stream: io.StringIO) -> str:
    progress = _demo().Progress(stream)
    for text in ["0/11 searchable"] * 5 + ["4/11 searchable"] * 3 + ["11/11 searchable"]:
        progress.show(text)
    progress.done()
    return stream.getvalue()


def test_piped_output_has_one_line_per_change_and_no_carriage_return() -> None:
    out = _run(io.StringIO())
    assert "\r" not in out
    assert out.splitlines() == ["0/11 searchable", "4/11 searchable", "11/11 searchable"]


def test_terminal_output_redraws_one_line() -> None:
    out = _run(_Terminal())
    assert out.count("\r") == 9 and out.endswith("11/11 searchable\n") and out.count("\n") == 1

"""`newsflow enrich` end to end: JSONL in, EnrichedArticle JSONL out, bad lines reported."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agents.cli import app
from schemas import EnrichedArticle

GOOD_EN = {"id": "c-1", "body": "Kamala Harris spoke about asylum seekers in El Paso."}
GOOD_ES = {"id": "c-2", "title": "Frontera", "body": "Carolina Valdivia viajó a Santiago."}


def _lines(*items: object) -> str:
    return "".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items)


def test_file_to_file_with_bad_lines(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(
        _lines(
            GOOD_EN,
            "",
            "{not json",
            {"id": "c-3", "bdy": "typo"},
            {"id": "c-4", "body": "\u00ad\u202a"},
            GOOD_ES,
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["enrich", "--input", str(src), "--output", str(dst)])
    assert result.exit_code == 1, result.output
    articles = [EnrichedArticle.model_validate_json(x) for x in dst.read_text().splitlines()]
    assert [(a.id, a.language) for a in articles] == [("c-1", "en"), ("c-2", "es")]
    assert "Kamala Harris" in articles[0].persons
    errors = [x for x in result.stderr.splitlines() if x.startswith("line ")]
    assert [x.split(":")[0:2] for x in errors] == [
        ["line 3", " invalid_json"],
        ["line 4", " missing_body"],
        ["line 5", " empty_body"],
    ]
    assert "enriched 2, rejected 3 (invalid 2, failed 1)" in result.stderr


def test_stdin_to_stdout_all_good() -> None:
    result = CliRunner().invoke(app, ["enrich"], input=_lines(GOOD_EN, GOOD_ES))
    assert result.exit_code == 0, result.stderr
    ids = [EnrichedArticle.model_validate_json(x).id for x in result.stdout.splitlines()]
    assert ids == ["c-1", "c-2"]
    assert "rejected 0" in result.stderr


def test_missing_input_file_is_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["enrich", "--input", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: no such file: {tmp_path}/nope.jsonl"]

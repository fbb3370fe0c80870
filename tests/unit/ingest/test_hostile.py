"""The hostile corpus: ill-formed and malicious inputs, each with the outcome it must get.

``tests/data/hostile-expected.json`` lists, for every file there, every record in order:
published (with the fields it must keep and the notes it must carry) or rejected (with
its reason).  Large inputs are generated here.  The comparison is record by record, so a
record that vanished, a traceback or a record that is published when it must be refused
all fail — and what is published must also pass the stream's validate stage.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.ingest.inputs import Item, Parsed, Rejected, read_path
from pipeline.ingest.publish import encode
from pipeline.ingest.validate import parse_raw
from tests.support import DATA, ROOT

HOSTILE = DATA / "hostile"
EXPECTED: dict[str, list[dict[str, Any]]] = json.loads((DATA / "hostile-expected.json").read_text())
BODY = "Officials at the northern crossing said 300 people arrived overnight."


def _outcomes(items: list[Item], origin: str) -> list[tuple[str, str]]:
    return [(item.origin[len(origin):], "published" if isinstance(item, Parsed) else "rejected")
            for item in items]


def _check_article(item: Parsed, want: dict[str, Any]) -> None:
    article = item.article
    got = {
        "title": article.title,
        "body_starts": article.body[:40],
        "url": str(article.url) if article.url else None,
        "language": article.language,
        "authors": article.authors or None,
        "id": article.id,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "notes": sorted(k for k in article.metadata if k.startswith(("dropped.", "cleaned."))),
        "body_from": article.metadata.get("body_from"),
    }
    assert {k: got[k] for k in want} == want, item.origin
    assert {k: v for k, v in got.items() if k not in want and v not in (None, [])} == {}, (
        f"{item.origin}: unexpected fields")
    # What the reader publishes, the stream accepts: no dead letter at validate.
    assert parse_raw(encode(article)[1], max_bytes=16_000_000).body == article.body


def test_every_corpus_file_is_listed() -> None:
    files = {p.name for p in HOSTILE.iterdir()}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_records_one_by_one(name: str) -> None:
    path = HOSTILE / name
    items = list(read_path(path))
    expected = EXPECTED[name]
    assert _outcomes(items, str(path)) == [(row["at"], row["outcome"]) for row in expected]
    for item, row in zip(items, expected, strict=True):
        if isinstance(item, Rejected):
            assert row["reason"] in item.reason
            assert "\n" not in item.reason
        else:
            _check_article(item, row["article"])


def test_dropped_values_are_kept_raw_in_metadata() -> None:
    items = list(read_path(HOSTILE / "epochs.jsonl"))
    notes = [item.article.metadata.get("dropped.published_at") for item in items
             if isinstance(item, Parsed)]
    assert "'last Tuesday'" in str(notes[5]) and "99999999999999999" in str(notes[0])
    [entry, _] = list(read_path(HOSTILE / "atom-rules.atom"))
    assert isinstance(entry, Parsed)
    assert "'Tuesday last'" in entry.article.metadata["dropped.published_at"]


# --- generated: too large or too deep to check in ------------------------------------------

def test_deeply_nested_json_is_one_rejection(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    [item] = list(read_path(path))
    assert isinstance(item, Rejected) and "nested too deeply" in item.reason


def test_deep_line_in_json_lines_costs_that_line_only(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    deep = '{"body": "x", "metadata": ' + "{\"a\": " * 50_000 + "1" + "}" * 50_001
    path.write_text("\n".join([json.dumps({"body": BODY}), deep,
                               json.dumps({"body": BODY + " again"})]) + "\n")
    items = list(read_path(path))
    assert _outcomes(items, str(path)) == [(":1", "published"), (":2", "rejected"),
                                           (":3", "published")]
    assert isinstance(items[1], Rejected) and "nested too deeply" in items[1].reason


def test_bad_byte_in_json_lines_costs_its_line_with_the_file_offset(tmp_path: Path) -> None:
    lines = [json.dumps({"body": f"{BODY} Record {i}."}).encode() + b"\n" for i in range(399)]
    bad_line = 199  # 0-based: line 200 of the file
    position = lines[bad_line].index(b"Record")
    lines[bad_line] = lines[bad_line][:position] + b"\xff" + lines[bad_line][position + 1:]
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"".join(lines))
    items = list(read_path(path))
    assert len(items) == 399
    rejected = [item for item in items if isinstance(item, Rejected)]
    assert [r.origin for r in rejected] == [f"{path}:200"]
    offset = sum(len(line) for line in lines[:bad_line]) + position
    assert f"file offset {offset}" in rejected[0].reason and "0xff" in rejected[0].reason
    assert sum(isinstance(item, Parsed) for item in items) == 398


def test_binary_file_with_a_json_lines_name_is_one_rejection(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_bytes(bytes(range(256)) * 64)
    [item] = list(read_path(path))
    assert isinstance(item, Rejected) and "binary" in item.reason


def test_cli_run_goes_on_through_the_whole_corpus_and_counts(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agents.cli", "publish", "--dry-run", "--no-progress",
         str(HOSTILE)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    rows = [row for file_rows in EXPECTED.values() for row in file_rows]
    published = sum(row["outcome"] == "published" for row in rows)
    rejected = len(rows) - published
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    rejected_lines = [line for line in result.stderr.splitlines() if line.startswith("rejected ")]
    assert len(rejected_lines) == rejected
    assert f"{published} valid (dry run, nothing sent); {rejected} rejected" in result.stdout

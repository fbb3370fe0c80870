"""The standard-analyzer mimic cuts text where Elasticsearch's does (checked live by the
parity test; these pin the cases that matter for English and Spanish news)."""

from __future__ import annotations

import pytest

from pipeline.alerts.rules import analyze
from pipeline.alerts.rules.analysis import DEFAULT_FIELDS, KEYWORD_FIELDS, TEXT_FIELDS, lowercase


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("The U.S. border", ["the", "u.s", "border"]),
        ("U.S.A.", ["u.s.a"]),
        ("o'clock O'Brien dogs' 'tis", ["o'clock", "o'brien", "dogs", "tis"]),
        ("don’t", ["don’t"]),  # the curly apostrophe stays: no normalisation
        ("e-mail COVID-19 visa-free", ["e", "mail", "covid", "19", "visa", "free"]),
        ("MIGRACIÓN árbol Ñandú", ["migración", "árbol", "ñandú"]),  # lowercased, not folded
        ("1,000.50 3.5% 2,5 10:30", ["1,000.50", "3.5", "2,5", "10", "30"]),
        ("19th 1º covid19", ["19th", "1º", "covid19"]),
        ("border_crossing _x __", ["border_crossing", "_x"]),
        ("hora:tarde", ["hora:tarde"]),  # ':' joins letters in UAX #29
        ("a.1 v1.2", ["a", "1", "v1.2"]),
        ("info@example.org https://x.org/a", ["info", "example.org", "https", "x.org", "a"]),
        ("AT&T c++ 7%", ["at", "t", "c", "7"]),
        ("中文", ["中", "文"]),
        ("!!! -- ...", []),
    ],
)
def test_analyze_cuts_like_the_standard_tokenizer(text: str, terms: list[str]) -> None:
    assert analyze(text) == terms


def test_long_terms_are_split_at_255() -> None:
    assert [len(t) for t in analyze("x" * 600)] == [255, 255, 90]


def test_lowercase_is_per_code_point_like_java() -> None:
    assert lowercase("İSTANBUL") == "istanbul"
    assert lowercase("ΟΔΟΣ") == "οδοσ"  # no final-sigma rule


def test_field_kinds_come_from_the_index_mapping() -> None:
    assert {"title", "body"} == TEXT_FIELDS
    assert {"tags", "places", "persons", "orgs", "language", "source"} <= KEYWORD_FIELDS
    assert DEFAULT_FIELDS == ("title", "body")

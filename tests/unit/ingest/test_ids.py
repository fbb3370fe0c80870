"""Stable article ids: republishing the same article must give the same key."""

from __future__ import annotations

import re

import pytest

from pipeline.ingest.ids import article_id, canonical_url, normalise_text
from schemas import RawArticle

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")
BODY = "Families waited at the crossing for a third day as processing stopped."


def _raw(**fields: object) -> RawArticle:
    return RawArticle.model_validate({"body": BODY, **fields})


def test_given_id_wins_over_url_and_text() -> None:
    raw = _raw(id="desk-42", url="https://example.org/a")
    assert article_id(raw) == "desk-42"


def test_tracking_params_fragment_case_and_slash_do_not_change_the_id() -> None:
    plain = article_id(_raw(url="https://news.example.org/world/crossing?id=7&page=2"))
    variants = [
        "https://news.example.org/world/crossing/?page=2&id=7",
        "HTTPS://News.Example.ORG/world/crossing?id=7&utm_source=x&utm_medium=y&page=2",
        "https://news.example.org/world/crossing?fbclid=abc&id=7&page=2#comments",
        "https://news.example.org:443/world/crossing?gclid=zzz&page=2&id=7",
    ]
    assert {article_id(_raw(url=url)) for url in variants} == {plain}


def test_different_pages_get_different_ids() -> None:
    a = article_id(_raw(url="https://news.example.org/world/crossing?id=7"))
    b = article_id(_raw(url="https://news.example.org/world/crossing?id=8"))
    c = article_id(_raw(url="https://news.example.org/world/crossing-2"))
    assert len({a, b, c}) == 3


def test_canonical_url_keeps_path_case_and_meaningful_params() -> None:
    assert (
        canonical_url("https://Ex.org:8080/A/b/?z=1&utm_campaign=q&a=2#frag")
        == "https://ex.org:8080/A/b?a=2&z=1"
    )


def test_same_text_with_other_whitespace_and_case_gets_the_same_id() -> None:
    a = article_id(_raw(body="Families  waited\nat the crossing.\r\n\tThey were cold."))
    b = article_id(_raw(body="families waited at the crossing. they were cold."))
    c = article_id(_raw(body="Families waited at the crossing. They were warm."))
    assert a == b
    assert a != c


def test_text_id_ignores_the_title() -> None:
    # A corrected headline updates the article instead of duplicating it.
    assert article_id(_raw(title="First headline")) == article_id(_raw(title="Corrected"))


def test_nfkc_folds_compatibility_characters() -> None:
    assert normalise_text("ﬁnal  ＡＢＣ") == normalise_text("final abc")


@pytest.mark.parametrize("fields", [{"url": "https://example.org/x"}, {}, {"id": "given-1"}])
def test_ids_are_short_and_valid_article_ids(fields: dict[str, str]) -> None:
    ident = article_id(_raw(**fields))
    assert _ID_PATTERN.match(ident)
    assert RawArticle.model_validate({"id": ident, "body": BODY}).id == ident
    assert len(ident) <= 32

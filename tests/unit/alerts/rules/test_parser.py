"""Rules are accepted when Elasticsearch would run them the same way, refused otherwise,
and refused with the position of the offending part."""

from __future__ import annotations

import pytest

from pipeline.alerts.rules import RuleSyntaxError, parse_rule
from pipeline.alerts.rules.query import Bool, Keyword, Phrase, Term, Wildcard

TB = ("title", "body")


@pytest.mark.parametrize(
    ("query", "position", "fragment"),
    [
        ("a AND (b OR c))", 14, "unexpected ')'"),
        ("(border OR wall", 15, "unexpected end"),
        ("AND border", 0, "unexpected 'AND'"),
        ('"border crossing', 0, "unterminated quote"),
        ("", 0, "empty rule"),
        ("migrants AND tittle:border", 13, "unknown field 'tittle'"),
        ("_exists_:title", 0, "unknown field"),
        ("migrant~", 0, "fuzzy"),
        ("migrant~1", 0, "fuzzy"),
        ("date:[2020 TO 2021]", 0, "unknown field"),
        ("title:[a TO b]", 6, "ranges"),
        ("/migra.*/", 0, "regular expressions"),
        ("a && b", 2, "write AND"),
        ("a || b", 2, "write OR"),
        ("!border", 0, "write NOT"),
        ("24/7", 2, "'/' must be escaped"),
        ("- border", 0, "'-' must touch its term"),
        ("NOT NOT border", 4, "one NOT"),
        ("*", 0, "at least one letter"),
        ("title:*", 6, "at least one letter"),
        ('"migra* law"', 6, "wildcards do not work inside quotes"),
        ("e-ma*", 0, "not one word"),
        ('"a b"~', 0, "proximity needs"),
        ('"a b"~2.5', 5, "whole number"),
        ("&", 0, "no letter or digit"),
        ('""', 0, "no letter or digit"),
        ("title:a:b", 6, "another field"),
    ],
)
def test_refused_with_position(query: str, position: int, fragment: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule(query)
    error = caught.value
    assert error.position == position, str(error)
    assert fragment in error.message
    assert str(error) == f"position {position}: {error.message}"
    assert "\n" not in str(error)


def test_error_text_is_one_line_like_the_issue_says() -> None:
    with pytest.raises(RuleSyntaxError, match=r"^position 14: unexpected '\)'$"):
        parse_rule("a AND (b OR c))")


def test_bare_terms_search_title_and_body_with_or() -> None:
    assert parse_rule("border") == Term(TB, "border")
    assert parse_rule("Border wall") == Bool(should=(Term(TB, "border"), Term(TB, "wall")))


def test_fields_scope_terms_and_groups() -> None:
    assert parse_rule("title:Border") == Term(("title",), "border")
    assert parse_rule("title:(a OR b)") == Bool(
        should=(Term(("title",), "a"), Term(("title",), "b"))
    )
    assert parse_rule("places:Colchane") == Keyword("places", "Colchane")
    assert parse_rule('persons:"Rodrigo Delgado"') == Keyword("persons", "Rodrigo Delgado")


def test_keyword_group_of_bare_words_is_one_value_like_lucene() -> None:
    assert parse_rule("persons:(Rodrigo Delgado)") == Keyword("persons", "Rodrigo Delgado")
    assert parse_rule("persons:(Rodrigo Delgado OR Ana)") == Bool(
        should=(
            Keyword("persons", "Rodrigo"),
            Keyword("persons", "Delgado"),
            Keyword("persons", "Ana"),
        )
    )
    # Outside parentheses the second word goes to the default fields.
    assert parse_rule("persons:Rodrigo Delgado") == Bool(
        should=(Keyword("persons", "Rodrigo"), Term(TB, "delgado"))
    )


def test_phrases_are_analysed_and_carry_slop() -> None:
    assert parse_rule('"Border Crossing"~5') == Phrase(TB, ("border", "crossing"), 5)
    assert parse_rule('"U.S."') == Term(TB, "u.s")
    assert parse_rule("e-mail") == Bool(should=(Term(TB, "e"), Term(TB, "mail")))


def test_wildcards_are_lowercased_on_text_and_kept_on_keywords() -> None:
    rule = parse_rule("Migra*")
    assert isinstance(rule, Wildcard)
    assert (rule.pattern, rule.prefix, rule.keyword) == ("migra*", "migra", False)
    kw = parse_rule("places:Col*")
    assert isinstance(kw, Wildcard)
    assert (kw.pattern, kw.prefix, kw.keyword, kw.fields) == ("Col*", "Col", True, ("places",))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Lucene's classic parser: AND makes its neighbours required, nothing more.
        ("a AND b OR c", Bool(must=(Term(TB, "a"), Term(TB, "b")), should=(Term(TB, "c"),))),
        ("a OR b AND c", Bool(must=(Term(TB, "b"), Term(TB, "c")), should=(Term(TB, "a"),))),
        ("NOT a OR b", Bool(should=(Term(TB, "b"),), must_not=(Term(TB, "a"),))),
        ("a OR NOT b", Bool(should=(Term(TB, "a"),), must_not=(Term(TB, "b"),))),
        ("a AND NOT b", Bool(must=(Term(TB, "a"),), must_not=(Term(TB, "b"),))),
        ("NOT a AND b", Bool(must=(Term(TB, "b"),), must_not=(Term(TB, "a"),))),
        ("+a b", Bool(must=(Term(TB, "a"),), should=(Term(TB, "b"),))),
        ("-a", Bool(must_not=(Term(TB, "a"),))),
        ("a^3 OR b", Bool(should=(Term(TB, "a"), Term(TB, "b")))),
    ],
)
def test_boolean_clauses_follow_lucene_add_clause(query: str, expected: Bool) -> None:
    assert parse_rule(query) == expected


def test_escapes_make_special_characters_literal() -> None:
    assert parse_rule("hora\\:tarde") == Term(TB, "hora:tarde")
    assert parse_rule("places:Ciudad\\ Juárez") == Keyword("places", "Ciudad Juárez")

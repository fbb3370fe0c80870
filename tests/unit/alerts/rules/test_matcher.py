"""Each construct matches what it should on hand-built articles, and the candidate-filter
matcher returns exactly what evaluating every rule returns."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline.alerts.rules import Matcher, RuleSyntaxError, naive_match, parse_rule
from schemas.articles import EnrichedArticle

_NOW = datetime(2024, 5, 1, tzinfo=UTC)


def _article(body: str, *, title: str | None = None, **keywords: Any) -> EnrichedArticle:
    return EnrichedArticle(
        id=f"a{abs(hash((title, body))) % 10**8}",
        title=title,
        body=body,
        published_at=_NOW,
        ingested_at=_NOW,
        language=keywords.pop("language", "en"),
        story_id="s",
        **keywords,
    )


BORDER = _article(
    "At 9 o'clock the border crossing near Colchane reopened, U.S. officials said by e-mail.",
    title="Migrants return",
    places=["Colchane"],
    persons=["Rodrigo Delgado"],
    tags=["border_crossing"],
    countries=["CL"],
)
SPANISH = _article(
    "La migración venezolana creció en Iquique; el cruce de la frontera fue lento.",
    title="MIGRACIÓN en el norte",
    language="es",
    places=["Iquique"],
    nationalities=["venezolanos"],
)


def _hits(query: str, article: EnrichedArticle) -> bool:
    return Matcher([("r", query)]).match(article) == ["r"]


@pytest.mark.parametrize(
    ("query", "border", "spanish"),
    [
        ("border", True, False),
        ("BORDER", True, False),
        ("migración", False, True),
        ("migracion", False, False),  # no accent folding
        ("migra*", True, True),
        ("Migra*", True, True),
        ("migr?nts", True, False),
        ("*grants", True, False),
        ('"border crossing"', True, False),
        ('"crossing border"', False, False),
        ('"crossing border"~1', False, False),
        ('"crossing border"~2', True, False),  # reversed order costs two moves
        ('"border near"~1', True, False),
        ('"border near"', False, False),
        ("title:migrants", True, False),
        ("body:migrants", False, False),
        ("o'clock", True, False),
        ("U.S.", True, False),
        ("mail", True, False),  # e-mail indexes e and mail
        ("places:Colchane", True, False),
        ("places:colchane", False, False),  # keywords are exact
        ("places:Col*", True, False),
        ("places:col*", False, False),
        ('persons:"Rodrigo Delgado"', True, False),
        ("persons:(Rodrigo Delgado)", True, False),
        ("persons:Rodrigo", False, False),
        ("tags:border_crossing", True, False),
        ("language:es", False, True),
        ("nationalities:venezolanos AND frontera", False, True),
        ("countries:CL OR places:Iquique", True, True),
        ("NOT border", False, True),
        ("-border", False, True),
        ("frontera -iquique", False, False),  # -term looks in title/body terms
        ("frontera -colchane", False, True),
        ("border AND crossing OR frontera", True, False),  # Lucene: +border +crossing frontera
        ("(border AND crossing) OR frontera", True, True),
        ("NOT border OR frontera", False, True),
        ("border AND (NOT frontera)", True, False),
        ("+migrants cruce", True, False),
    ],
)
def test_constructs(query: str, border: bool, spanish: bool) -> None:
    assert (_hits(query, BORDER), _hits(query, SPANISH)) == (border, spanish)


def test_add_remove_and_replace_at_run_time() -> None:
    matcher = Matcher([("a", "border"), ("b", "frontera")])
    assert matcher.match(BORDER) == ["a"]
    matcher.add("c", "places:Colchane")
    assert matcher.match(BORDER) == ["a", "c"]
    assert matcher.remove("a") is True
    assert matcher.remove("a") is False
    assert matcher.match(BORDER) == ["c"]
    matcher.add("c", "frontera")  # replaced in place
    assert matcher.match(BORDER) == []
    assert matcher.match(SPANISH) == ["b", "c"]
    assert len(matcher) == 2 and "b" in matcher


def test_a_bad_rule_is_refused_and_leaves_the_matcher_as_it_was() -> None:
    matcher = Matcher([("a", "border")])
    with pytest.raises(RuleSyntaxError):
        matcher.add("b", "border AND (")
    assert "b" not in matcher
    assert matcher.match(BORDER) == ["a"]


def test_unanchored_rules_are_still_evaluated() -> None:
    matcher = Matcher([("neg", "NOT frontera"), ("lead", "*ossing"), ("empty", "x")])
    assert matcher.match(BORDER) == ["neg", "lead"]


# --- candidate filter == every rule evaluated, on random rules ---------------------------

_WORDS = [
    "border",
    "crossing",
    "migrants",
    "frontera",
    "asylum",
    "visa",
    "camp",
    "night",
    "colchane",
    "iquique",
    "caravan",
    "u.s",
    "mail",
    "north",
    "cruce",
    "la",
    "the",
]
_KEYWORDS = {
    "places": ["Colchane", "Iquique", "El Paso"],
    "tags": ["asylum", "caravan"],
    "persons": ["Ana Ruiz", "Rodrigo Delgado"],
    "language": ["en", "es"],
}


def _random_rule(rng: random.Random, depth: int = 0) -> str:
    kind = rng.random()
    if depth < 2 and kind < 0.3:
        op = rng.choice([" AND ", " OR ", " ", " AND NOT ", " OR -"])
        parts = [_random_rule(rng, depth + 1) for _ in range(rng.randint(2, 3))]
        text = op.join(parts)
        return f"({text})" if rng.random() < 0.6 else text
    if kind < 0.45:
        field = rng.choice(list(_KEYWORDS))
        value = rng.choice(_KEYWORDS[field])
        return f'{field}:"{value}"' if " " in value else f"{field}:{value}"
    if kind < 0.6:
        a, b = rng.sample(_WORDS, 2)
        slop = rng.choice(["", "~1", "~3"])
        return f'"{a} {b}"{slop}'
    if kind < 0.7:
        word = rng.choice(_WORDS)
        return word[: rng.randint(1, len(word))].rstrip(".") + "*"
    if kind < 0.8:
        return f"{rng.choice(['title', 'body'])}:{rng.choice(_WORDS)}"
    prefix = rng.choice(["", "", "", "-", "+", "NOT "])
    return prefix + rng.choice(_WORDS)


def _random_article(rng: random.Random, i: int) -> EnrichedArticle:
    words = [rng.choice(_WORDS + ["and", "of", "in"]) for _ in range(rng.randint(5, 40))]
    keywords = {f: rng.sample(v, rng.randint(0, len(v))) for f, v in _KEYWORDS.items()}
    language = (keywords.pop("language") or ["en"])[0]
    return EnrichedArticle(
        id=f"r{i}",
        title=" ".join(words[:4]).title(),
        body=" ".join(words).capitalize(),
        published_at=_NOW,
        ingested_at=_NOW,
        language=language,
        story_id="s",
        **keywords,
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matcher_equals_naive_on_random_rules(seed: int) -> None:
    rng = random.Random(seed)
    rules: list[tuple[str, str]] = []
    while len(rules) < 400:
        query = _random_rule(rng)
        try:
            parse_rule(query)
        except RuleSyntaxError:
            continue
        rules.append((f"q{len(rules)}", query))
    matcher = Matcher(rules)
    parsed = [(rule_id, parse_rule(query)) for rule_id, query in rules]
    fired = 0
    for i in range(60):
        article = _random_article(rng, i)
        got = matcher.match(article)
        assert got == naive_match(parsed, article)
        fired += len(got)
    assert 0 < fired < 400 * 60  # the comparison is not vacuous

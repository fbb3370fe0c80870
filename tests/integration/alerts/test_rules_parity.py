"""The stream matcher finds exactly what Elasticsearch finds, and what Kibana's bar finds.

A throwaway index is created with the real article template (mapping *and* settings, so
``index.query.default_field`` too), filled with invented English and Spanish articles
full of awkward tokens (accents, apostrophes, hyphens, "U.S.", numbers, casing, keyword
values), and every rule of a varied set is run three ways: by ``Matcher`` on the
articles, by ``es_query`` on the index (with ``analyze_wildcard`` on, as Kibana sends it,
and off, as ES defaults), and as Kibana's search bar sends it: ``query_string`` without
``fields``.  KQL rules are run the same three ways, Kibana's way being the DSL that
Kibana's own KQL code (``@kbn/es-query``, run by node) produces.  The id sets must be
identical.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers

from pipeline.alerts.rules import Matcher, es_query, naive_match, parse_rule
from pipeline.core.es_client import es_client
from pipeline.core.settings import Settings
from schemas.articles import EnrichedArticle
from schemas.index import article_template

pytestmark = pytest.mark.stack

HARNESS = Path(__file__).parent / "kibana_kql"

_NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

# (title, body, keyword fields) — invented sentences, one article each.
_ARTICLES: list[tuple[str | None, str, dict[str, Any]]] = [
    (
        "Migrants reach the border",
        "Dozens of migrants crossed the border near Colchane at dawn.",
        {"places": ["Colchane"], "countries": ["CL"], "tags": ["border_crossing"]},
    ),
    (
        "Border crossing reopens",
        "The border crossing at Ciudad Juárez reopened on Monday.",
        {"places": ["Ciudad Juárez"], "countries": ["MX"], "tags": ["border_crossing"]},
    ),
    (
        "Crossing the border at night",
        "They said crossing at night was safer than by day.",
        {"tags": ["border_crossing"]},
    ),
    (None, "Officials said the border was quiet; no crossing was reported.", {}),
    (
        "Asylum claims rise",
        "Asylum claims in the U.S. rose by 1,000 last month.",
        {"countries": ["US"], "tags": ["asylum"], "orgs": ["DHS"]},
    ),
    (
        "US policy",
        "The us government and the U.S.A. delegation met at 10:30.",
        {"countries": ["US"]},
    ),
    (
        "La migración en Chile",
        "La migración venezolana creció un 3,5 por ciento en Iquique.",
        {
            "language": "es",
            "places": ["Iquique"],
            "nationalities": ["venezolanos"],
            "countries": ["CL"],
        },
    ),
    (
        "MIGRACIÓN Y FRONTERA",
        "Sin tilde: migracion, frontera y cruce irregular.",
        {"language": "es", "tags": ["irregular_entry"]},
    ),
    (
        "Árbol genealógico",
        "El árbol de la familia Pérez llegó desde Perú en 1999.",
        {"language": "es", "persons": ["Ana Pérez"], "countries": ["PE"]},
    ),
    (
        "Rodrigo Delgado visits Colchane",
        "Minister Rodrigo Delgado toured the crossing.",
        {"persons": ["Rodrigo Delgado"], "places": ["Colchane"], "countries": ["CL"]},
    ),
    (
        "Delgado speaks",
        "Rodrigo spoke; later Delgado answered questions by e-mail.",
        {"persons": ["Rodrigo", "Delgado"]},
    ),
    (
        "O'Brien at the port",
        "Senator O'Brien arrived at 9 o'clock with the dogs' handlers.",
        {"persons": ["Pat O'Brien"]},
    ),
    ("Curly quotes", "They don’t expect the ferry before noon; it’s late again.", {}),
    (
        "Email scams target migrants",
        "An email promising visas was sent; the e-mail was fake.",
        {"tags": ["smuggling"]},
    ),
    ("AT&T outage", "AT&T said the outage hit shelters; at and t were trending.", {}),
    (
        "COVID-19 at the camp",
        "COVID-19 cases rose; covid tests were scarce at the camp.",
        {"tags": ["health"]},
    ),
    (
        "Numbers",
        "Some 2,5 millones; exactly 3.5 percent; the 19th caravan; 1,000.50 pesos.",
        {"language": "es"},
    ),
    ("Hora", "La hora:tarde del informe y la tarde siguiente.", {"language": "es"}),
    ("Underscore terms", "The tag border_crossing appeared in the log file.", {}),
    (
        "Caravan moves north",
        "A caravan of 3000 people moved north toward Tapachula.",
        {"places": ["Tapachula"], "countries": ["MX"], "tags": ["caravan"]},
    ),
    (
        "Caravana avanza",
        "La caravana avanzó hacia el norte desde Tapachula.",
        {"language": "es", "places": ["Tapachula"], "tags": ["caravan"]},
    ),
    (
        "Shelter capacity",
        "The shelter in El Paso is full, the mayor said.",
        {"places": ["El Paso"], "countries": ["US"], "orgs": ["City of El Paso"]},
    ),
    (
        "Deportation flights",
        "Deportation flights resumed to Guatemala and Honduras.",
        {"countries": ["GT", "HN"], "tags": ["deportation"]},
    ),
    ("Deported", "He was deported twice; deportations rose.", {"tags": ["deportation"]}),
    (
        "Refugee agency warns",
        "The UNHCR warned of a crisis as refugees fled.",
        {"orgs": ["UNHCR"], "tags": ["refugees"]},
    ),
    (
        "ACNUR advierte",
        "El ACNUR advirtió sobre la crisis de refugiados venezolanos.",
        {"language": "es", "orgs": ["ACNUR"], "nationalities": ["venezolanos"]},
    ),
    (
        "Visa rules change",
        "New visa rules; visas for workers; a visa-free regime ended.",
        {"tags": ["visas"]},
    ),
    ("Work permits", "Work permits were granted to 500 asylum seekers.", {"tags": ["asylum"]}),
    (
        "Border wall",
        "Construction of the border wall stopped near Nogales.",
        {"places": ["Nogales"], "countries": ["US"]},
    ),
    ("Wall border", "A wall; then the border; crossing it took hours.", {}),
    ("Crossing border reversed", "Crossing border patrols were doubled.", {}),
    ("Gap of one", "The border, a crossing point, was closed.", {}),
    ("Gap of two", "The border at the crossing was closed.", {}),
    ("Gap of three", "The border near the old crossing was closed.", {}),
    ("Very very long", "It was a very very long wait at the crossing.", {}),
    ("Very once", "It was a very long wait.", {}),
    (
        "Boat rescue",
        "A boat carrying 40 people was rescued off Lampedusa.",
        {"places": ["Lampedusa"], "countries": ["IT"], "tags": ["sea_rescue"]},
    ),
    (
        "Rescate en el mar",
        "Rescataron una embarcación frente a Lampedusa.",
        {"language": "es", "places": ["Lampedusa"], "tags": ["sea_rescue"]},
    ),
    ("Mediterranean", "The Mediterranean route remains deadly.", {"tags": ["sea_rescue"]}),
    (
        "Smugglers arrested",
        "Police arrested three smugglers; smuggling rings were dismantled.",
        {"tags": ["smuggling"], "orgs": ["Police"]},
    ),
    (
        "Trafficking report",
        "A report on human trafficking was published.",
        {"tags": ["trafficking"]},
    ),
    (
        "Climate migration",
        "Droughts drive climate migration in the Sahel.",
        {"places": ["Sahel"], "tags": ["climate"]},
    ),
    ("Migratory birds", "Migratory birds are not the topic, migrate elsewhere.", {}),
    ("Migrante", "Un migrante y dos migrantes llegaron.", {"language": "es"}),
    ("Migra", "La migra detuvo a tres personas.", {"language": "es"}),
    ("Source test", "A neutral sentence about weather.", {"source": "Reuters"}),
    ("Source test 2", "Another neutral sentence about markets.", {"source": "reuters"}),
    ("Source test 3", "A sentence from a local paper.", {"source": "El Mercurio"}),
    ("Language test", "Texto en español sin tema migratorio.", {"language": "es"}),
    ("Language und", "Zzz qqq.", {"language": "und"}),
    ("Ñandú", "El ñandú corre en la Patagonia; NIÑOS miran.", {"language": "es"}),
    ("İstanbul", "İstanbul hosts many Syrians.", {"nationalities": ["Syrians"]}),
    ("Straße", "Die STRASSE und die Straße.", {"language": "de"}),
    ("Mixed case", "MiGrAnTs and BORDER and Crossing.", {}),
    ("Empty keywords", "Nothing special here at all.", {}),
    ("Title only match", "Body says nothing.", {}),
    ("Plus signs", "C++ and c# developers joined the hackathon.", {}),
    ("Percent", "Unemployment hit 7% among newcomers.", {}),
    ("URL", "See https://www.example.org/report or write to info@example.org today.", {}),
    ("Children", "Unaccompanied children crossed; the children were safe.", {"tags": ["minors"]}),
    ("Niños", "Niños no acompañados cruzaron la frontera.", {"language": "es", "tags": ["minors"]}),
]

_RULES: list[str] = [
    # terms, casing, accents, tokens
    "migrants",
    "MIGRANTS",
    "border",
    "migración",
    "migracion",
    "árbol",
    "arbol",
    "U.S.",
    '"u.s."',
    "us",
    "U.S.A.",
    "o'clock",
    "O'Brien",
    "don’t",
    "don't",
    "dogs",
    "e-mail",
    "email",
    "AT&T",
    "COVID-19",
    "19",
    "19th",
    "1,000",
    "1,000.50",
    "3.5",
    "2,5",
    "10",
    "30",
    "hora\\:tarde",
    "tarde",
    "border_crossing",
    "ñandú",
    "niños",
    "istanbul",
    "İstanbul",
    "straße",
    "strasse",
    "c++",
    "7",
    "example.org",
    "info",
    # phrases and proximity
    '"border crossing"',
    '"crossing border"',
    '"border crossing"~1',
    '"border crossing"~2',
    '"border crossing"~3',
    '"crossing border"~1',
    '"crossing border"~2',
    '"crossing border"~3',
    '"very long"',
    '"very very long"',
    '"very long"~1',
    '"the border"~4',
    '"Rodrigo Delgado"',
    '"delgado rodrigo"~2',
    '"covid 19 cases"',
    # wildcards
    "migra*",
    "Migra*",
    "migr?nt",
    "mi*s",
    "*grants",
    "deport*",
    "cros*ing",
    "u.s*",
    "refugi*",
    "visa*",
    "título*",
    # fields
    "title:border",
    "body:border",
    "title:(migrants OR caravan)",
    'body:"border wall"',
    "title:migra*",
    "tags:border_crossing",
    "tags:Border_Crossing",
    "places:Colchane",
    "places:colchane",
    "places:Col*",
    "places:col*",
    'places:"Ciudad Juárez"',
    "places:Ciudad\\ Juárez",
    "places:(Ciudad Juárez)",
    'persons:"Rodrigo Delgado"',
    "persons:(Rodrigo Delgado)",
    "persons:Rodrigo Delgado",
    "persons:(Rodrigo OR Ana)",
    "persons:(Rodrigo Delgado OR Ana)",
    "persons:*Brien",
    "persons:Pat\\ O'Brien",
    "orgs:UNHCR",
    "orgs:(UNHCR ACNUR)",
    "nationalities:venezolanos",
    "language:es",
    "language:ES",
    "language:e?",
    "source:Reuters",
    "source:reuters",
    "source:R*",
    "countries:CL",
    "countries:(US OR MX)",
    "countries:U?",
    # booleans, including Lucene's precedence-free AND/OR
    "migrants AND border",
    "migrants OR caravan",
    "border AND crossing OR wall",
    "wall OR border AND crossing",
    "NOT border",
    "-border",
    "border -crossing",
    "border AND NOT crossing",
    "NOT crossing AND border",
    "NOT crossing OR border",
    "border OR NOT crossing",
    "+border crossing",
    "+border +crossing",
    "border crossing",
    "caravan caravana AND tapachula",
    "(border OR wall) AND crossing",
    "border AND (NOT crossing)",
    "border OR (NOT crossing)",
    "(NOT border)",
    "-(border crossing)",
    "NOT (border OR crossing) AND night",
    "a b c OR d",
    "tags:sea_rescue AND -language:es",
    "language:es AND (migra* OR frontera)",
    "places:Tapachula AND NOT tags:caravan",
    "(tags:asylum OR tags:visas) AND workers",
    "migrants^2 OR caravan",
    '"border crossing"~2^3 AND title:crossing',
    "title:(border -wall)",
    "body:(very very)",
    "NOT language:es AND NOT border",
    # more slop, repeats, wildcards, escapes and keyword phrases
    '"the border closed"~2',
    '"closed border the"~6',
    '"very very"~1',
    '"very long very"~2',
    '"long very"~2',
    "migraci*",
    "Migraci?n",
    "*ción",
    "n?ños",
    "places:*as",
    "places:?ahel",
    "countries:(GT HN)",
    'persons:"Rodrigo Delgado"~3',
    "title:covid*",
    r"c\+\+",
    "tags:(sea_rescue caravan)",
    r"orgs:City\ of\ El\ Paso",
    "(migrants OR migrante) -title:migra*",
]


def _article(i: int, title: str | None, body: str, keywords: dict[str, Any]) -> EnrichedArticle:
    return EnrichedArticle(
        id=f"p{i:03d}",
        title=title,
        body=body,
        published_at=_NOW,
        ingested_at=_NOW,
        language=keywords.get("language", "en"),
        story_id=f"s{i:03d}",
        **{k: v for k, v in keywords.items() if k != "language"},
    )


ARTICLES = [_article(i, *row) for i, row in enumerate(_ARTICLES)]


@pytest.fixture(scope="module")
def index(stack: object, settings: Settings) -> Iterator[tuple[Elasticsearch, str]]:
    es = es_client(settings)
    name = f"rules-parity-{uuid.uuid4().hex[:12]}"
    template = copy.deepcopy(article_template(name)["template"])
    es.indices.create(index=name, mappings=template["mappings"], settings=template["settings"])
    try:
        helpers.bulk(
            es,
            ({"_index": name, "_id": a.id, "_source": a.model_dump(mode="json")} for a in ARTICLES),
            refresh="wait_for",
        )
        yield es, name
    finally:
        es.indices.delete(index=name, ignore_unavailable=True)


def _ids(es: Elasticsearch, index: str, query: dict[str, Any]) -> set[str]:
    response = es.search(index=index, query=query, size=len(ARTICLES) + 10, source=False)
    return {hit["_id"] for hit in response["hits"]["hits"]}


def _es_ids(es: Elasticsearch, index: str, rule: str, *, analyze_wildcard: bool) -> set[str]:
    query = es_query(rule)
    query["query_string"]["analyze_wildcard"] = analyze_wildcard
    return _ids(es, index, query)


def kibana_lucene(rule: str) -> dict[str, Any]:
    """What Kibana's search bar sends for a Lucene query: no ``fields``, wildcards analysed."""
    return {"query_string": {"query": rule, "analyze_wildcard": True}}


def kibana_kql(rules: list[str]) -> list[dict[str, Any]]:
    """Kibana's own translation of each KQL rule, by its ``@kbn/es-query`` code under node.

    The harness is test-only (``make node-deps`` installs it); the product translates
    KQL in Python (``pipeline.alerts.rules.kql``).
    """
    node = shutil.which("node")
    if node is None or not (HARNESS / "node_modules").is_dir():
        pytest.fail("the KQL parity harness is not installed: run `make node-deps`",
                    pytrace=False)
    done = subprocess.run(
        [node, str(HARNESS / "kql_to_dsl.js")], input="".join(json.dumps(r) + "\n" for r in rules),
        capture_output=True, text=True, timeout=120, check=True,
    )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) == len(rules), done.stderr
    failed = [(rule, a["error"]) for rule, a in zip(rules, answers, strict=True) if "error" in a]
    assert not failed, f"Kibana could not parse: {failed}"
    return [a["dsl"] for a in answers]


def test_corpus_and_rules_are_varied() -> None:
    assert len(ARTICLES) >= 60
    assert len(_RULES) >= 60
    for rule in _RULES:
        parse_rule(rule)  # every rule of the set is accepted


def test_matcher_finds_what_elasticsearch_finds(index: tuple[Elasticsearch, str]) -> None:
    es, name = index
    matcher = Matcher((f"r{i}", rule) for i, rule in enumerate(_RULES))
    ours: dict[str, set[str]] = {f"r{i}": set() for i in range(len(_RULES))}
    for article in ARTICLES:
        for rule_id in matcher.match(article):
            ours[rule_id].add(article.id)
    mismatches = []
    for i, rule in enumerate(_RULES):
        expected = _es_ids(es, name, rule, analyze_wildcard=True)
        also = _es_ids(es, name, rule, analyze_wildcard=False)
        kibana = _ids(es, name, kibana_lucene(rule))
        got = ours[f"r{i}"]
        if got != expected or got != also or got != kibana:
            mismatches.append(
                f"{rule!r}: matcher-only {sorted(got - expected)}, "
                f"ES-only {sorted(expected - got)}, "
                f"analyze_wildcard off differs: {also != expected}, "
                f"Kibana's bar differs: {sorted(kibana ^ got)}"
            )
    assert not mismatches, "\n".join(mismatches)


def test_default_fields_are_the_matchers_fields(index: tuple[Elasticsearch, str]) -> None:
    """The failure this prevents: ``migra*`` in Kibana also matched tag ids in ``tags``."""
    es, name = index
    tagged = _ids(es, name, {"term": {"tags": "sea_rescue"}})
    assert tagged and not (tagged & _ids(es, name, kibana_lucene("sea_rescue")))
    assert _ids(es, name, kibana_lucene("tags:sea_rescue")) == tagged


# KQL as analysts type it in Kibana: lower-case operators, values with spaces, lists.
_KQL_RULES: list[str] = [
    "migrants",
    "border crossing",
    '"border crossing"',
    "border and crossing",
    "border AND crossing or wall",
    "wall or border and crossing",
    "not border",
    "border and not crossing",
    "not (border or crossing)",
    "not crossing and border",
    "migra*",
    "Migra*",
    "*grants",
    "migra* and not refugee*",
    "not migra* and not refugee*",
    "title:border",
    "title:border wall",
    'body:"border wall"',
    "title:(migrants or caravan)",
    "title:migra* or body:deport*",
    "tags:border_crossing",
    "tags:sea_rescue and not language:es",
    "places:Colchane",
    "places:colchane",
    "places:Ciudad Juárez",
    'places:"Ciudad Juárez"',
    "places:Col*",
    "persons:(Rodrigo Delgado or Ana)",
    'persons:("Rodrigo Delgado" or "Pat O\'Brien")',
    "orgs:UNHCR or orgs:ACNUR",
    "language:es and (migra* or frontera)",
    "countries:(US or MX) and not tags:caravan",
    "e-mail",
    "AT&T",
    "U.S.",
    "covid-19 and cases",
    "niños or ñandú",
    "o'clock",
    "caravan caravana and tapachula",
    "(tags:asylum or tags:visas) and workers",
    "border and (wall or crossing) and not night",
    "migrants and",
]


def test_kql_rules_find_what_kibana_finds(index: tuple[Elasticsearch, str]) -> None:
    es, name = index
    matcher = Matcher()
    for i, rule in enumerate(_KQL_RULES):
        matcher.add(f"k{i}", rule, language="kql")
    ours: dict[str, set[str]] = {f"k{i}": set() for i in range(len(_KQL_RULES))}
    for article in ARTICLES:
        for rule_id in matcher.match(article):
            ours[rule_id].add(article.id)
    kibana = kibana_kql(_KQL_RULES)
    mismatches = []
    sizes = []
    for i, rule in enumerate(_KQL_RULES):
        theirs = _ids(es, name, kibana[i])
        index_side = _ids(es, name, es_query(rule, language="kql"))
        got = ours[f"k{i}"]
        sizes.append(len(theirs))
        if not got == theirs == index_side:
            mismatches.append(
                f"{rule!r}: matcher-only {sorted(got - theirs)}, Kibana-only "
                f"{sorted(theirs - got)}, es_query differs: {sorted(index_side ^ theirs)}"
            )
    assert not mismatches, "\n".join(mismatches)
    discriminating = sum(1 for n in sizes if 0 < n < len(ARTICLES))
    assert discriminating >= 0.8 * len(_KQL_RULES), sizes


def test_rules_match_something_and_not_everything(index: tuple[Elasticsearch, str]) -> None:
    """Guards the parity test against a vacuous corpus: most rules must discriminate."""
    es, name = index
    sizes = [len(_es_ids(es, name, rule, analyze_wildcard=True)) for rule in _RULES]
    discriminating = sum(1 for n in sizes if 0 < n < len(ARTICLES))
    assert discriminating >= 0.8 * len(_RULES), sizes


def test_naive_and_matcher_agree_on_the_corpus() -> None:
    rules = [(f"r{i}", parse_rule(rule)) for i, rule in enumerate(_RULES)]
    matcher = Matcher((f"r{i}", rule) for i, rule in enumerate(_RULES))
    for article in ARTICLES:
        assert matcher.match(article) == naive_match(rules, article)

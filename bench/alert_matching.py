"""How much does matching 10,000 alert rules cost per article, next to NER?

Run: ``.venv/bin/python bench/alert_matching.py [--articles 300] [--rules 10000]``.

Everything is measured in the same run on the same articles (the first N of the
corpus): spaCy NER (``ner`` only, ``nlp.pipe``), the candidate-filter ``Matcher`` and the
``naive_match`` baseline that evaluates every rule.  Both matchers analyse each article
once (that cost is included).  Rules are generated deterministically from a seed, with
terms drawn from the corpus's own vocabulary and the entities NER found.  Prints
figures; asserts nothing except that the two matchers agree.

Then the worst case (issue 13): the adversarial rules of the issue on the articles it
describes (each refused, or its matching time), and the slowest accepted rule among
``--worst-rules`` drawn by the property tests' grammar (``tests.rule_grammar``, fixed
seed) over this corpus's vocabulary, with its CPU cost per article next to NER's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import time
import warnings
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import spacy
from hypothesis import HealthCheck, given, settings

from bench.corpora import corpus
from pipeline.alerts.rules import Matcher, RuleSyntaxError, analyze, naive_match, parse_rule
from pipeline.alerts.rules.document import Document
from pipeline.alerts.rules.query import Phrase
from pipeline.core.settings import Settings
from schemas.articles import EnrichedArticle
from tests.rule_grammar import Vocabulary, lucene_rules

CORPUS = corpus("us-immigration-2020.jsonl")
_LABELS = {
    "GPE": "places",
    "LOC": "places",
    "PERSON": "persons",
    "ORG": "orgs",
    "NORP": "nationalities",
}


def _load(path: Path, n: int) -> list[dict[str, str]]:
    rows = []
    with path.open() as f:
        for line in f:
            row = json.loads(line)
            if row.get("body", "").strip():
                rows.append(row)
            if len(rows) == n:
                break
    return rows


def _articles(rows: list[dict[str, str]], docs: list) -> list[EnrichedArticle]:
    now = datetime.now(UTC)
    out = []
    for row, doc in zip(rows, docs, strict=True):
        fields: dict[str, set[str]] = {v: set() for v in _LABELS.values()}
        for ent in doc.ents:
            if ent.label_ in _LABELS:
                fields[_LABELS[ent.label_]].add(ent.text)
        out.append(
            EnrichedArticle(
                id=row["id"],
                title=None,
                body=row["body"],
                source=row.get("source"),
                published_at=datetime.fromisoformat(row["published_at"].replace("Z", "+00:00")),
                ingested_at=now,
                language="en",
                story_id=row["id"],
                **{k: sorted(v) for k, v in fields.items()},
            )
        )
    return out


class _RuleMaker:
    """Varied rules from the corpus: terms, phrases, proximity, wildcards, fields, booleans."""

    def __init__(self, articles: list[EnrichedArticle], seed: int) -> None:
        self.rng = random.Random(seed)
        df: Counter[str] = Counter()
        bigrams: Counter[tuple[str, str]] = Counter()
        for a in articles:
            terms = [t for t in analyze(a.body) if t.isalpha()]
            df.update(set(terms))
            bigrams.update(set(zip(terms, terms[1:], strict=False)))
        n = len(articles)
        # Alert terms are topical: seen in a few articles, not in most of them.
        self.terms = sorted(t for t, c in df.items() if 2 <= c <= n // 3 and len(t) >= 4)
        # Phrases analysts alert on are topical too ("asylum seekers", not "for the").
        topical = {t for t, c in df.items() if c <= n // 3 and len(t) >= 3}
        self.bigrams = sorted(
            b for b, c in bigrams.items() if c >= 2 and b[0] in topical and b[1] in topical
        )
        self.entities = {
            field: sorted({v for a in articles for v in getattr(a, field)})
            for field in set(_LABELS.values())
        }
        self.sources = sorted({a.source for a in articles if a.source})

    def term(self) -> str:
        return self.rng.choice(self.terms)

    def atom(self) -> str:
        rng, kind = self.rng, self.rng.random()
        if kind < 0.40:
            return self.term()
        if kind < 0.55:
            a, b = rng.choice(self.bigrams)
            return f'"{a} {b}"'
        if kind < 0.62:
            a, b = rng.choice(self.bigrams)
            return f'"{b} {a}"~{rng.choice([2, 3, 5])}' if rng.random() < 0.3 else f'"{a} {b}"~3'
        if kind < 0.72:
            t = self.term()
            return t[: max(3, len(t) - rng.randint(1, 3))] + "*"
        if kind < 0.77:
            return f"{rng.choice(['title', 'body'])}:{self.term()}"
        if kind < 0.97:
            field = rng.choice(sorted(self.entities))
            value = rng.choice(self.entities[field]).replace('"', "")
            return f'{field}:"{value}"'
        return f"source:{rng.choice(self.sources)}"

    def rule(self) -> str:
        rng, kind = self.rng, self.rng.random()
        if kind < 0.35:
            return self.atom()
        if kind < 0.55:
            return " AND ".join(self.atom() for _ in range(rng.randint(2, 3)))
        if kind < 0.70:
            return " OR ".join(self.atom() for _ in range(rng.randint(2, 4)))
        if kind < 0.82:
            return f"{self.atom()} AND NOT {self.atom()}"
        if kind < 0.86:
            return f"{self.atom()} -{self.term()}"
        if kind < 0.995:
            return f"({self.atom()} OR {self.atom()}) AND ({self.atom()} OR {self.atom()})"
        return f"NOT {self.atom()}"

    def rules(self, n: int) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        while len(out) < n:
            query = self.rule()
            try:
                parse_rule(query)
            except RuleSyntaxError:
                continue  # e.g. an entity text with characters a rule must escape
            out.append((f"rule-{len(out)}", query))
        return out


def _cpu(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median CPU seconds of ``fn`` (thread time: what the event loop would lose)."""
    times = []
    for _ in range(repeat):
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return statistics.median(times)


def _with_body(article: EnrichedArticle, extra: str) -> Document:
    return Document.of(article.model_copy(update={"body": f"{article.body} {extra}"}))


def _adversarial(article: EnrichedArticle) -> None:
    """The five rules of issue 13's table, on an ordinary article of the corpus."""
    print("\nadversarial rules of issue 13 (CPU per article; were 0.65 s to > 40 s):")
    run = "a" * 255
    cases = [
        ("*?*?*?*?*?*?*?*?qq", "a 40-letter token", "a" * 40),
        ("*?*?*?*?*?*?*?*?*?*?qq", "a 40-letter token", "a" * 40),
        ("*?*?*?*?*?*?*?*?*?*?*?*?qq", "a 40-letter token", "a" * 40),
        ("*a*a*a*a*q", "a 255-letter run", run),
        ("*a*a*a*a*a*q", "a 255-letter run", run),
        ('"' + " ".join(["refugee"] * 10) + '"~1000000', "'refugee' 9 times",
         " ".join(["refugee"] * 9)),
        ('"' + " ".join(["refugee"] * 10) + '"~10000', "'refugee' 9 times",
         " ".join(["refugee"] * 9)),
        ('"' + " ".join(["refugee"] * 10) + '"~10000', "'refugee' 300 times",
         " ".join(["refugee"] * 300)),
        ("(" * 1990 + "refugee" + ")" * 1990, "-", ""),
    ]
    for rule, against, extra in cases:
        label = rule if len(rule) < 44 else rule[:40] + "…"
        parse_s = _cpu(lambda rule=rule: _try_parse(rule), repeat=3)
        try:
            matcher = Matcher([("r", rule)])
        except RuleSyntaxError as e:
            print(f"  {label:46} refused in {parse_s * 1e3:.2f} ms: {e}")
            if "~1000000" in rule:  # the walk itself, past the limit: still bounded
                over = _with_body(article, extra)
                phrase = Phrase(("body",), ("refugee",) * 10, 1_000_000)
                cost = _cpu(lambda over=over, phrase=phrase: (over.memo.clear(),
                                                               phrase.matches(over)))
                print(f"  {'':46} (matched anyway, limit bypassed: {cost * 1e3:.3f} ms)")
            continue
        doc = _with_body(article, extra)
        cost = _cpu(lambda matcher=matcher, doc=doc: (doc.memo.clear(),
                                                      matcher.match_document(doc)))
        print(f"  {label:46} on {against:22} {cost * 1e3:.3f} ms")


def _try_parse(rule: str) -> None:
    with contextlib.suppress(RuleSyntaxError):
        parse_rule(rule)


def _worst(articles: list[EnrichedArticle], n_rules: int, ner_ms: float) -> None:
    """The slowest accepted rule the property tests' grammar produces on these articles."""
    vocab = Vocabulary(
        words=sorted({t for a in articles[:50] for t in analyze(a.body)
                      if t.isalpha() and len(t) > 2}),
        pairs=sorted({(a, b) for art in articles[:50] for ts in [analyze(art.body)]
                      for a, b in zip(ts, ts[1:], strict=False)
                      if a.isalpha() and b.isalpha()})[:5000],
        keywords=sorted({(f, v) for a in articles for f in ("places", "persons", "orgs")
                         for v in getattr(a, f)})[:2000],
    )
    drawn: list[str] = []

    @settings(max_examples=n_rules, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(lucene_rules(vocab, max_leaves=12))
    def collect(rule: str) -> None:
        drawn.append(rule)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the vocabulary's repr is large, and never shown
        collect()
    accepted = []
    for rule in drawn:
        try:
            accepted.append((rule, Matcher([("r", rule)])))
        except RuleSyntaxError:
            continue
    docs = [Document.of(a) for a in articles]
    worst: tuple[float, float, str] = (0.0, 0.0, "")
    for rule, matcher in accepted:
        costs = []
        for doc in docs:
            doc.memo.clear()
            start = time.thread_time()
            matcher.match_document(doc)
            costs.append(time.thread_time() - start)
        if max(costs) > worst[0]:
            worst = (max(costs), statistics.mean(costs), rule)
    top, mean, rule = worst
    print(f"\nworst case: {len(drawn)} rules drawn by tests/rule_grammar.py, "
          f"{len(accepted)} accepted, each on {len(docs)} articles")
    print(f"  slowest accepted rule: {rule}")
    print(f"  its cost per article: max {top * 1e3:.3f} ms, mean {mean * 1e3:.3f} ms; "
          f"NER {ner_ms:.1f} ms/article: {top * 1e3 / ner_ms:.1%} of NER at worst")
    budget = Settings().alerts.rule_budget_ms
    print(f"  budget per rule and article (NEWSFLOW_ALERT_RULE_BUDGET_MS): {budget:g} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--worst-rules", type=int, default=500,
                        help="rules drawn by the property grammar for the worst case")
    args = parser.parse_args()

    rows = _load(args.corpus, args.articles)
    texts = [r["body"] for r in rows]
    n = len(rows)
    words = sum(len(t.split()) for t in texts)
    print(f"articles: {n} (mean {words / n:.0f} words) from {args.corpus.name}")

    nlp = spacy.load(Settings().enrich.model_en, enable=["ner"])
    list(nlp.pipe(texts[:8]))  # warm-up
    t0 = time.perf_counter()
    docs = list(nlp.pipe(texts, batch_size=32))
    ner_s = time.perf_counter() - t0
    articles = _articles(rows, docs)

    maker = _RuleMaker(articles, args.seed)
    t0 = time.perf_counter()
    rules = maker.rules(args.rules)
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    parsed = [(rule_id, parse_rule(query)) for rule_id, query in rules]
    parse_s = time.perf_counter() - t0
    print(
        f"rules: {len(rules)} (vocabulary {len(maker.terms)} terms, "
        f"{len(maker.bigrams)} bigrams); generated in {gen_s:.1f} s, parsed at "
        f"{parse_s / len(rules) * 1e6:.0f} µs/rule"
    )

    t0 = time.perf_counter()
    matcher = Matcher(rules)
    matcher.match(articles[0])  # builds the automaton
    build_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    for article in articles:
        Document.of(article)
    analyse_s = time.perf_counter() - t0

    per_article: list[float] = []
    fast: list[list[str]] = []
    for article in articles:
        t = time.perf_counter()
        fast.append(matcher.match(article))
        per_article.append(time.perf_counter() - t)
    match_s = sum(per_article)

    t0 = time.perf_counter()
    slow = [naive_match(parsed, article) for article in articles]
    naive_s = time.perf_counter() - t0

    identical = fast == slow
    fired = [len(m) for m in fast]
    ner_ms = ner_s / n * 1e3
    match_us = match_s / n * 1e6
    print(f"matcher build (parse + automaton): {build_s:.2f} s")
    print(f"spaCy NER ({Settings().enrich.model_en}, ner only, nlp.pipe): {ner_ms:.1f} ms/article")
    print(
        f"analysis alone (tokenise title+body, once per article): "
        f"{analyse_s / n * 1e6:.0f} µs/article"
    )
    print(
        f"matching, candidate filter (incl. analysis): {match_us:.0f} µs/article "
        f"(median {statistics.median(per_article) * 1e6:.0f}, "
        f"max {max(per_article) * 1e6:.0f})"
    )
    print(f"matching, naive every-rule loop (incl. analysis): {naive_s / n * 1e6:.0f} µs/article")
    print(f"matching / NER: {match_us / 1e3 / ner_ms:.1%} (target <= 10%)")
    print(f"speed-up over naive: {naive_s / match_s:.1f}x")
    print(
        f"rules fired per article: mean {statistics.mean(fired):.1f}, "
        f"max {max(fired)}; identical to naive: {identical}"
    )
    if not identical:
        raise SystemExit("matcher and naive loop disagree")
    _adversarial(articles[0])
    _worst(articles, args.worst_rules, ner_ms)


if __name__ == "__main__":
    main()

"""Migration-topic tagging: is an article about human migration, and which topics.

Single keywords cannot tell refugees from "refugees from the heat" or deportation from a
history of it, so every cue is a rule: terms that fire only when required context (a word
for people on the move, a nationality, a disaster) is within a window of characters and no
veto context (birds, servers, footballers, cocaine, level crossings) is.  Rules and lexicons
are data (``pipeline/enrichment/data/tagging/rules.json``) that users extend without touching code.
One Aho-Corasick pass over the folded text finds every term; NER entities add context.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pipeline.enrichment.tagging._match import CueIndex, Hit, Positions, fold
from pipeline.enrichment.tagging._model import (
    BUILTIN_MODEL,
    LEAD_CHARS,
    Grams,
    LinearModel,
    Snippet,
    counts,
    cue_features,
    decide,
    ngrams,
    stem_of,
)
from pipeline.enrichment.tagging._rules import RulesFile, TaggingRulesError, load_rules
from schemas import Entity, Evidence, TopicTag

__all__ = ["TagResult", "Tagger", "TaggingRulesError", "load_tagger"]


@dataclass(frozen=True)
class TagResult:
    migration_related: bool
    topics: list[TopicTag] = field(default_factory=list)
    relevance: float = 0.0  # summed cue weight; compared with a length-dependent threshold
    lookalike: float = 0.0  # summed weight of the cues vetoed as look-alikes


_CHUNK = 500  # characters: about a paragraph


@dataclass(frozen=True)
class _Scan:
    relevance: float
    needed: float  # relevance a text of this length needs to count as about migration
    words: int
    tag_weight: dict[str, float]
    evidence: dict[str, list[Evidence]]
    lead: float  # cue weight in the title and the first LEAD_CHARS of the body
    lead_weight: dict[str, float]
    spread: float  # share of the text's stretches (_CHUNK characters) with an accepted cue
    lookalike: float  # weight of the cues whose veto context was near: look-alikes

    def features(self, tags: list[str]) -> list[float]:
        return cue_features(relevance=self.relevance, needed=self.needed, words=self.words,
                            tag_weight=self.tag_weight, lead=self.lead,
                            lead_weight=self.lead_weight, spread=self.spread,
                            lookalike=self.lookalike, tags=tags)  # fmt: skip


@dataclass(frozen=True)
class _CompiledRule:
    id: str
    tag: str | None
    weight: float
    require: tuple[tuple[int, ...], ...]  # any clause; every lexicon slot in a clause
    veto: tuple[int, ...]
    window: int
    topic_only: bool  # adds to its tag, not to the article's relevance


class Tagger:
    """Built from validated rules; immutable and safe to share between threads."""

    def __init__(self, rules: RulesFile, model: LinearModel | None = None) -> None:
        self._settings = rules.settings
        self._model = model
        self.taxonomy: dict[str, str] = {t.id: t.label for t in rules.taxonomy}
        self._lexicon_slot = {name: i for i, name in enumerate(rules.lexicons)}
        base = len(self._lexicon_slot)
        self._rules = [
            _CompiledRule(
                id=r.id,
                tag=r.tag,
                weight=r.weight,
                require=tuple(
                    tuple(self._lexicon_slot[n] for n in clause.split("+")) for clause in r.require
                ),
                veto=tuple(self._lexicon_slot[n] for n in r.veto),
                window=r.window or rules.settings.window,
                topic_only=r.topic_only,
            )
            for r in rules.rules
        ]
        self._entity_slots = {
            label: tuple(self._lexicon_slot[n] for n in names)
            for label, names in rules.entity_lexicons.items()
        }
        languages = {lang for langs in rules.lexicons.values() for lang in langs}
        languages |= {lang for r in rules.rules for lang in r.terms}
        self._indexes = {
            lang: CueIndex(self._terms(rules, [lang], base)) for lang in sorted(languages)
        }
        # Unknown or undetermined language: every language's cues at once.
        self._any = CueIndex(self._terms(rules, sorted(languages), base))
        self._base = base

    @staticmethod
    def _terms(rules: RulesFile, langs: list[str], base: int) -> list[tuple[str, int]]:
        slot = {name: i for i, name in enumerate(rules.lexicons)}
        out: list[tuple[str, int]] = []
        for name, by_lang in rules.lexicons.items():
            for lang in langs:
                out.extend((t, slot[name]) for t in by_lang.get(lang, []))
        for i, rule in enumerate(rules.rules):
            for lang in langs:
                for term in rule.terms.get(lang, []):
                    if term.startswith("@"):
                        refs = rules.lexicons[term[1:]].get(lang, [])
                        out.extend((t, base + i) for t in refs)
                    else:
                        out.append((term, base + i))
        return out

    def tag(
        self, *, title: str | None, body: str, language: str, entities: Sequence[Entity]
    ) -> TagResult:
        """Tags for one article; ``entities`` (mentions with offsets into ``body``, or into the
        title when a mention says ``field="title"``) may be empty."""
        title = title or ""
        scan = self._scan(title, body, language, entities)
        if self._model is None:
            return self._by_rules(scan)
        return self._by_model(title, body, scan)

    def model_inputs(
        self,
        *,
        title: str | None,
        body: str,
        language: str,
        entities: Sequence[Entity],
        stem: int = 0,
    ) -> tuple[Counter[str], list[float], float, frozenset[str]]:
        """What the trained model reads (n-gram counts, with word stems of ``stem`` letters
        if not 0, and rule-cue features), the rules' cue weight (what the gate compares) and
        the tags a rule cue fired for: for training it."""
        title = title or ""
        scan = self._scan(title, body, language, entities)
        bag = counts(ngrams(title), ngrams(body), stem)
        return bag, scan.features(list(self.taxonomy)), scan.relevance, frozenset(scan.tag_weight)

    def _scan(
        self, title: str, body: str, language: str, entities: Sequence[Entity]
    ) -> _Scan:
        """Every rule cue that fires, summed per tag, with the evidence to show for it."""
        s = self._settings
        offset = len(title) + 1 if title else 0
        text = f"{title}\n{body}" if title else body
        folded = fold(text)
        hits = self._indexes.get(language, self._any).find(folded)

        context = Positions()
        cue_hits: list[Hit] = []
        for hit in hits:
            if hit.slot < self._base:
                context.add(hit.slot, hit.start, hit.end)
            else:
                cue_hits.append(hit)
        for entity in entities:
            for slot in self._entity_slots.get(entity.label, ()):
                for m in entity.mentions:
                    shift = 0 if getattr(m, "field", "body") == "title" else offset
                    context.add(slot, m.start + shift, m.end + shift)
        context.freeze()

        per_term: dict[tuple[int, str], int] = {}
        vetoed: dict[tuple[int, str], int] = {}
        tag_weight: dict[str, float] = {}
        lead_weight: dict[str, float] = {}
        evidence: dict[str, list[Evidence]] = {}
        relevance = 0.0
        lead = 0.0
        lookalike = 0.0
        lead_end = offset + LEAD_CHARS
        spots: set[int] = set()  # stretches of text where a cue was accepted
        # Longest (then heaviest) first at each start: a cue inside a longer accepted topic
        # cue is not counted again ("border" in "crossed the border"), nor given to another
        # topic ("removal" in "immigration removal centre" is detention, not deportation).
        rules = self._rules
        base = self._base
        cue_hits.sort(key=lambda h: (h.start, -h.end, -rules[h.slot - base].weight))
        covered: dict[str | None, int] = {}  # per tag (None: no topic), end of last accepted
        topic_end = -1  # end of the last accepted topic cue, any topic
        feasible: dict[int, list[tuple[int, ...]]] = {}
        for hit in cue_hits:
            rule = self._rules[hit.slot - self._base]
            if hit.end <= covered.get(rule.tag, -1):
                continue
            if rule.tag is not None and hit.end <= topic_end:
                continue
            w = rule.window
            if any(context.near(v, hit.start, hit.end, w) for v in rule.veto):
                # A migration word used about something else: evidence against, counted
                # once per term like accepted cues.
                key = (hit.slot, folded[hit.start : hit.end])
                vetoed[key] = vetoed.get(key, 0) + 1
                if vetoed[key] <= s.max_hits_per_term and not rule.topic_only:
                    lookalike += rule.weight * (s.title_boost if hit.start < offset else 1.0)
                continue
            clauses = feasible.get(hit.slot)
            if clauses is None:  # required clauses whose lexicons occur in this article
                clauses = feasible[hit.slot] = [
                    c for c in rule.require if all(context.has(slot) for slot in c)
                ]
            if rule.require and not (
                clauses
                and any(
                    all(context.near(slot, hit.start, hit.end, w) for slot in clause)
                    for clause in clauses
                )
            ):
                continue
            covered[rule.tag] = hit.end
            if rule.tag is not None:
                topic_end = max(topic_end, hit.end)
            if not rule.topic_only:
                spots.add(hit.start // _CHUNK)
            key = (hit.slot, folded[hit.start : hit.end])
            per_term[key] = per_term.get(key, 0) + 1
            if per_term[key] > s.max_hits_per_term:
                continue
            in_title = hit.start < offset
            weight = rule.weight * (s.title_boost if in_title else 1.0)
            in_lead = hit.start < lead_end
            if not rule.topic_only:  # a topic-only cue says which topic, not whether
                relevance += weight
                lead += weight if in_lead else 0.0
            if rule.tag is None:
                continue
            tag_weight[rule.tag] = tag_weight.get(rule.tag, 0.0) + weight
            if in_lead:
                lead_weight[rule.tag] = lead_weight.get(rule.tag, 0.0) + weight
            found = evidence.setdefault(rule.tag, [])
            if len(found) < s.max_evidence_per_tag:
                shift = 0 if in_title else offset
                found.append(
                    Evidence(
                        cue=text[hit.start : hit.end],
                        field="title" if in_title else "body",
                        start=hit.start - shift,
                        end=hit.end - shift,
                    )
                )

        # A long article mentions migration in passing more often than a short one does.
        words = len(body.split()) + len(title.split())
        extra = max(0, words - s.relevance_free_words)
        needed = min(s.relevance_max, s.relevance_base + s.relevance_per_1000_words * extra / 1000)
        # A passing mention sits in one stretch of a long article; a story about migration
        # comes back to it throughout.
        spread = len(spots) / (len(text) // _CHUNK + 1)
        return _Scan(relevance, needed, words, tag_weight, evidence, lead, lead_weight, spread,
                     lookalike)  # fmt: skip

    def _by_rules(self, scan: _Scan) -> TagResult:
        if scan.relevance < scan.needed:
            return TagResult(migration_related=False, relevance=scan.relevance,
                             lookalike=scan.lookalike)  # fmt: skip
        topics = [
            TopicTag(id=tag, score=round(score, 3), evidence=scan.evidence[tag])
            for tag, weight in scan.tag_weight.items()
            if (score := 1.0 - math.exp(-weight)) >= self._settings.tag_threshold
        ]
        topics.sort(key=lambda t: (-t.score, t.id))
        return TagResult(migration_related=True, topics=topics, relevance=scan.relevance,
                         lookalike=scan.lookalike)  # fmt: skip

    def _by_model(self, title: str, body: str, scan: _Scan) -> TagResult:
        """The trained model decides for articles (with a rule cue as a gate, see
        ``Decision``); in a short item (a snippet, an alert text: no more than
        ``relevance_free_words``) it has too little to read, and the rules' verdict there
        weighs in (``Snippet``), which also lets a user's rules take effect.  The evidence
        is the rule cues for the tag when any fired, else the words that weighed most for it
        in this article."""
        model = self._model
        assert model is not None
        title_grams, body_grams = ngrams(title), ngrams(body)
        p = model.predict(title_grams, body_grams, scan.features(model.cue_tags))
        snippet = None
        if scan.words <= self._settings.relevance_free_words:
            by_rules = self._by_rules(scan)
            snippet = Snippet(by_rules.migration_related,
                              {t.id: t.score for t in by_rules.topics}, scan.lookalike)  # fmt: skip
        related, scores = decide(p.migration, p.tags, scan.relevance, model.thresholds,
                                 model.decision, snippet, frozenset(scan.tag_weight))  # fmt: skip
        if not related:
            return TagResult(migration_related=False, relevance=scan.relevance,
                             lookalike=scan.lookalike)  # fmt: skip
        shown = {g for grams in p.cues.values() for g in grams}
        where: dict[str, tuple[Literal["title", "body"], int, int]] = {}
        parts: tuple[tuple[Literal["title", "body"], Grams], ...] = (
            ("title", title_grams), ("body", body_grams))  # fmt: skip
        for part, grams in parts:
            for g, s, e in grams:  # the first occurrence is the one shown
                if g in shown:
                    where.setdefault(g, (part, s, e))
                if model.stem and (st := stem_of(g, model.stem)) in shown:
                    where.setdefault(st, (part, s, e))  # a stem shows the word it cut
        topics = []
        for tag, score in scores.items():
            evidence = scan.evidence.get(tag) or [
                Evidence(cue=(title if field == "title" else body)[s:e], field=field,
                         start=s, end=e)  # fmt: skip
                for field, s, e in (where[g] for g in p.cues.get(tag, []) if g in where)
            ]
            if evidence:  # a tag an analyst cannot check is not shown
                topics.append(TopicTag(id=tag, score=round(score, 3), evidence=evidence))
        topics.sort(key=lambda t: (-t.score, t.id))
        return TagResult(migration_related=True, topics=topics, relevance=scan.relevance,
                         lookalike=scan.lookalike)  # fmt: skip


def load_tagger(path: Path | None = None, *, model: bool = True) -> Tagger:
    """``None`` loads the packaged rules; a path loads a user's copy, or a file with
    ``"extends": "builtin"`` layered on the packaged rules.  Raises ``TaggingRulesError``.

    ``model=False`` decides by the rules alone (cue weights against a length-dependent
    threshold), as newsflow did before the trained model; the rules still give evidence."""
    rules = load_rules(path)
    return Tagger(rules, LinearModel.load(BUILTIN_MODEL) if model else None)

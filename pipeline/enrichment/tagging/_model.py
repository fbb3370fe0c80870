"""The trained half of the tagger: a linear model over words, word pairs and the rules' cues.

Rules alone over-fire on long articles that mention migration in passing and under-fire on
topics described in words no lexicon lists; a linear model trained on labelled articles
weighs both.  It stays readable: the words that push a tag up are the evidence shown to
the analyst when no rule cue fired.  The model is a gzipped JSON file built by
``python bench/train_tagger.py``; inference needs only numpy.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.enrichment.tagging._match import fold

BUILTIN_MODEL = Path(__file__).resolve().parent.parent / "data" / "tagging" / "model.json.gz"
# /3: the rule-cue features gained the look-alike weight and share.
# /4: and each tag's share of the topic cue weight.  A /3 file still loads: its cue
# features are the first ones of /4's.
# /5: word stems (``stem``) beside the words and pairs.  A /4 file reads no stems.
MODEL_FORMAT = "newsflow-tagging-model/5"
_READABLE = ("newsflow-tagging-model/3", "newsflow-tagging-model/4", MODEL_FORMAT)
STEM_MARK = "~"
# The title and the first paragraph (about this many characters of the body) say what a news
# article is about; a passing mention sits further down.
LEAD_CHARS = 600
MIGRATION = "migration_related"


def ngrams(text: str) -> list[tuple[str, int, int]]:
    """Words of three letters or more and adjacent word pairs, with offsets into ``text``.

    Folding keeps offsets (see ``fold``), so an n-gram points at what the analyst reads."""
    folded = fold(text)
    words: list[tuple[str, int, int]] = []
    pos = 0
    for token in folded.split(" "):
        if len(token) > 2 and not token.isdigit():
            words.append((token, pos, pos + len(token)))
        pos += len(token) + 1
    pairs = [(f"{a}_{b}", s, e) for (a, s, _), (b, _, e) in zip(words, words[1:], strict=False)]
    return words + pairs


Grams = list[tuple[str, int, int]]


def stem_of(gram: str, stem: int) -> str | None:
    """The stem feature of a word: its first ``stem`` letters, marked, when it is longer
    (``None`` for a short word or a pair).  A crude stemmer that needs no language: a
    Spanish verb and its participles (desplaza, desplazados, desplazamiento), an English
    noun and its plural share one feature where the training set has few of each form."""
    if stem <= 0 or len(gram) <= stem or "_" in gram:
        return None
    return STEM_MARK + gram[:stem]


def counts(title: Grams, body: Grams, stem: int = 0) -> Counter[str]:
    """Bag of n-grams; the title counts three times and the lead twice because they say
    what the article is about.  With ``stem``, each word also counts once for its stem
    (see ``stem_of``)."""
    bag = Counter(g for g, _, _ in body)
    for g, start, _ in body:
        if start >= LEAD_CHARS:
            break
        bag[g] += 1
    for g, _, _ in title:
        bag[g] += 3
    if stem > 0:  # stem_of, inlined: this runs for every word of every article
        for grams in (title, body):
            bag.update(STEM_MARK + g[:stem] for g, _, _ in grams
                       if len(g) > stem and "_" not in g)  # fmt: skip
    return bag


def cue_features(
    *,
    relevance: float,
    needed: float,
    words: int,
    tag_weight: dict[str, float],
    lead: float,
    lead_weight: dict[str, float],
    spread: float,
    lookalike: float,
    tags: list[str],
) -> list[float]:
    """What the rules found, as numbers: overall cue weight, its density, the weight in the
    title and lead, how much of the text has cues, the weight of the look-alikes the rules
    recognised (migration words vetoed by their context) and their share of all cue weight,
    and per tag the weight in the whole text, in the title and lead, and its share of all
    topic cue weight (a tag the article keeps coming back to, not one it touches once: the
    weights saturate, the share still tells a shipwreck story that mentions the coastguard
    from a story about the coastguard)."""
    topical = sum(tag_weight.values())
    return [
        math.log1p(relevance),
        relevance / (1.0 + words / 500.0),
        float(relevance >= needed),
        math.log1p(lead),
        spread,
        math.log1p(lookalike),
        lookalike / (lookalike + relevance) if lookalike else 0.0,
        *(1.0 - math.exp(-tag_weight.get(t, 0.0)) for t in tags),
        *(1.0 - math.exp(-lead_weight.get(t, 0.0)) for t in tags),
        *(tag_weight.get(t, 0.0) / topical if topical else 0.0 for t in tags),
    ]


@dataclass(frozen=True)
class Prediction:
    migration: float
    tags: dict[str, float]
    cues: dict[str, list[str]]  # tag -> n-grams that pushed it up, strongest first


@dataclass(frozen=True)
class Decision:
    """How probabilities become labels; chosen by cross-validation with the model.

    ``gate``: the rule cue weight an article needs besides the model's say-so to count as
    about migration (a look-alike that no rule accepts — birds, servers, transfers — stays
    out however migration-like its words are).  ``max_tags``: an article is about a few
    topics, not every one it touches.  ``fallback``: a migration article whose tags all
    fall short still gets its most likely one if that reaches this share of its threshold.
    ``short_floor``: in a short item (a snippet) the rules' verdict counts when the model
    gives migration at least this probability; and when the rules said no there and
    recognised a look-alike in it, the model cannot say yes (see ``Snippet``).
    ``uncued``: how far above its threshold (as a ratio) a tag must be when no rule cue of
    that tag fired in the article: the model alone reads too little in a short item with
    few known words, where a rare tag's probability drifts up from nothing (1.0: no more
    than any tag; 99: never)."""

    gate: float = 0.0
    max_tags: int = 3
    fallback: float = 1.0
    short_floor: float = 0.0
    uncued: float = 1.0

    @classmethod
    def of(cls, data: dict | None) -> Decision:
        data = data or {}
        return cls(gate=float(data.get("gate", 0.0)), max_tags=int(data.get("max_tags", 3)),
                   fallback=float(data.get("fallback", 1.0)),
                   short_floor=float(data.get("short_floor", 0.0)),
                   uncued=float(data.get("uncued", 1.0)))  # fmt: skip


@dataclass(frozen=True)
class Snippet:
    """The rules' verdict on a short item (no more than ``relevance_free_words``).

    A snippet gives the model a dozen words to read, too few to weigh a migration word
    against the rest; the rules look at the word's own context.  When they recognised a
    look-alike (a migration word vetoed by what stands next to it: "refugees from the
    heat", "the border derby") and found too little else, that is decisive."""

    related: bool
    tags: dict[str, float]  # the rules' tags and scores when ``related``
    lookalike: float  # cue weight the rules vetoed as look-alikes


def decide(
    migration: float,
    tags: dict[str, float],
    relevance: float,
    thresholds: dict[str, float],
    decision: Decision,
    snippet: Snippet | None = None,
    cued: frozenset[str] | None = None,
) -> tuple[bool, dict[str, float]]:
    """Migration-related or not, and the tags kept with their probabilities (or, for a
    snippet the rules took, their scores).  ``cued``: the tags some rule cue fired for
    (``None``: not known, every tag counts as cued).

    Shared by the tagger and by ``bench/train_tagger.py``, so the cross-validated figures
    are those of what ships."""
    if snippet is not None:
        if snippet.related and migration >= decision.short_floor:
            _, scores = decide(migration, tags, relevance, thresholds, decision, None, cued)
            for t, score in snippet.tags.items():
                scores[t] = max(scores.get(t, 0.0), score)
            return True, scores
        if not snippet.related and snippet.lookalike > 0.0:
            return False, {}
    if migration < thresholds[MIGRATION] or relevance < decision.gate:
        return False, {}
    ratio = {t: p / thresholds[t] for t, p in tags.items()}
    need = {t: 1.0 if cued is None or t in cued else decision.uncued for t in ratio}
    kept = sorted((t for t, r in ratio.items() if r >= need[t]), key=lambda t: -ratio[t])
    if not kept and ratio:
        best = max(ratio, key=lambda t: ratio[t])
        if ratio[best] >= decision.fallback * need[best]:
            kept = [best]
    return True, {t: tags[t] for t in kept[: decision.max_tags]}


class LinearModel:
    """Logistic outputs (``migration_related`` and one per tag) over tf-idf n-grams + cues."""

    def __init__(self, data: dict) -> None:
        if data.get("format") not in _READABLE:
            raise ValueError(f'tagging model: "format" must be one of {", ".join(_READABLE)}')
        self.outputs: list[str] = data["outputs"]
        self.tags: list[str] = [o for o in self.outputs if o != MIGRATION]
        self.cue_tags: list[str] = data["cue_tags"]
        self._names: list[str] = data["vocab"]
        self.vocab = {g: i for i, g in enumerate(self._names)}
        self._idf = np.asarray(data["idf"], dtype=np.float64)
        self._coef = np.asarray(data["coef"], dtype=np.float64)  # outputs x (vocab + cues)
        self._bias = np.asarray(data["intercept"], dtype=np.float64)
        self._n_cues = self._coef.shape[1] - len(self._names)  # an older format reads fewer
        self._cue_scale = float(data.get("cue_scale", 1.0))
        self.thresholds: dict[str, float] = data["thresholds"]
        self.decision = Decision.of(data.get("decision"))
        self.stem = int(data.get("stem", 0))  # 0: no stem features (/4 and older)

    @classmethod
    def load(cls, path: Path = BUILTIN_MODEL) -> LinearModel:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return cls(json.load(f))

    def vector(self, bag: Counter[str]) -> tuple[np.ndarray, np.ndarray]:
        """Indices and l2-normalised sublinear tf-idf values of the known n-grams."""
        known = [(self.vocab[g], c) for g, c in bag.items() if g in self.vocab]
        if not known:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        idx = np.fromiter((i for i, _ in known), dtype=np.int64, count=len(known))
        tf = np.fromiter((1.0 + math.log(c) for _, c in known), dtype=np.float64, count=len(known))
        values = tf * self._idf[idx]
        return idx, values / (np.linalg.norm(values) or 1.0)

    def predict(self, title: Grams, body: Grams, cues: list[float]) -> Prediction:
        idx, values = self.vector(counts(title, body, self.stem))
        n = len(self.vocab)
        extra = np.asarray(cues[: self._n_cues], dtype=np.float64) * self._cue_scale
        logits = self._coef[:, idx] @ values + self._coef[:, n:] @ extra + self._bias
        probs = 1.0 / (1.0 + np.exp(-logits))
        by_output = dict(zip(self.outputs, probs.tolist(), strict=True))
        contrib = self._coef[:, idx] * values  # outputs x present n-grams
        return Prediction(
            migration=by_output[MIGRATION],
            tags={t: by_output[t] for t in self.tags},
            cues=self._top_ngrams(idx, contrib),
        )

    def _top_ngrams(self, idx: np.ndarray, contrib: np.ndarray) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        if not len(idx):
            return out
        for row, output in enumerate(self.outputs):
            if output != MIGRATION:
                order = np.argsort(-contrib[row])[:5]
                out[output] = [self._names[idx[j]] for j in order if contrib[row, j] > 0]
        return out

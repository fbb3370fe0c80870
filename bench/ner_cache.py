"""The NER models' raw spans kept in a JSON file, so that benchmarks which run the enrich
stage over the same texts again (after a rule change) skip the slow part."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from pipeline.enrichment.nlp import Ner, RawSpan


class CachedNer:
    """The models' spans by model and text hash, in a JSON file; the models run only for
    texts the file does not hold yet."""

    def __init__(self, models: dict[str, str], path: Path | None) -> None:
        self._models = models
        self._path = path
        self._ner: Ner | None = None
        self._spans: dict[str, list[list]] = {}
        if path is not None and path.exists():
            stored = json.loads(path.read_text(encoding="utf-8"))
            self._spans = stored if "key" not in stored else {}  # an older layout: ignored

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self._models)

    def extract(self, texts: Sequence[str], language: str) -> list[list[RawSpan]]:
        model = self._models[language]
        keys = [f"{model}:{hashlib.sha1(t.encode()).hexdigest()}" for t in texts]
        missing = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in self._spans]
        if missing:
            if self._ner is None:
                self._ner = Ner(self._models)
            found = self._ner.extract([t for _, t in missing], language)
            for (key, _), spans in zip(missing, found, strict=True):
                self._spans[key] = [list(s) for s in spans]
        return [[RawSpan(*s) for s in self._spans[k]] for k in keys]

    def save(self) -> None:
        if self._path is not None:
            self._path.write_text(json.dumps(self._spans), encoding="utf-8")

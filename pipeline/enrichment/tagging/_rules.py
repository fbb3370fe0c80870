"""The tagging rules file: its shape, its validation and how a user file extends the built-in one.

Rules live in data so analysts can extend lexicons without touching code; the price is that
a typo there must fail loudly at load time, naming the file and the place, rather than
silently turning a rule off.  The format: ``pipeline/enrichment/data/tagging/README.md``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.core.errors import NewsflowError

BUILTIN_RULES = Path(__file__).resolve().parent.parent / "data" / "tagging" / "rules.json"
FORMAT = "newsflow-tagging/1"

_NAME = r"^[a-z][a-z0-9_]{0,63}$"
_TERM_CHARS = re.compile(r"^[^*@]+\*?$")


class TaggingRulesError(NewsflowError, ValueError):
    """A rules file cannot be used; the message names the file and the problem."""


class TaxonomyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=_NAME)
    label: str = Field(min_length=1)
    definition: str | None = None


class Settings(BaseModel):
    """Scoring knobs; see the README for what each one trades off."""

    model_config = ConfigDict(extra="forbid")

    window: int = Field(default=120, ge=1, le=2_000)
    title_boost: float = Field(default=1.5, ge=0)
    max_hits_per_term: int = Field(default=3, ge=1)
    tag_threshold: float = Field(default=0.5, gt=0, lt=1)
    relevance_base: float = Field(default=0.8, gt=0)
    relevance_free_words: int = Field(default=150, ge=0)
    relevance_per_1000_words: float = Field(default=1.0, ge=0)
    relevance_max: float = Field(default=3.0, gt=0)
    max_evidence_per_tag: int = Field(default=8, ge=1)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_.\-]{0,99}$")
    tag: str | None = Field(
        default=None, description="Taxonomy id, or null for a cue that only says 'migration'."
    )
    weight: float = Field(default=1.0, gt=0, le=5)
    terms: dict[str, list[str]] = Field(min_length=1)
    require: list[str] = Field(default_factory=list)
    veto: list[str] = Field(default_factory=list)
    window: int | None = Field(default=None, ge=1, le=2_000)
    topic_only: bool = Field(
        default=False,
        description="The cue says which topic, not whether the article is about migration: it "
        "adds to its tag's weight but not to the article's relevance.",
    )
    note: str | None = None


class RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str
    extends: str | None = Field(default=None, pattern=r"^builtin$")
    description: str | None = None
    settings: Settings = Field(default_factory=Settings)
    taxonomy: list[TaxonomyEntry] = Field(default_factory=list)
    lexicons: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    entity_lexicons: dict[str, list[str]] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    disable_rules: list[str] = Field(default_factory=list)


def _fail(path: Path, problem: str) -> TaggingRulesError:
    return TaggingRulesError(f"tagging rules {path}: {problem}")


def _read(path: Path) -> RulesFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise _fail(path, f"cannot read: {e.strerror or e}") from e
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as e:
        raise _fail(path, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from e
    if not isinstance(data, dict):
        raise _fail(path, "top level must be a JSON object")
    if data.get("format") != FORMAT:
        raise _fail(path, f'"format" must be "{FORMAT}", got {data.get("format")!r}')
    try:
        return RulesFile.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise _fail(path, f"{where}: {first['msg']}{more}") from e


def _merge(base: RulesFile, extra: RulesFile) -> RulesFile:
    """Layer a user file on the built-in rules: lexicons and taxonomy grow, rules with a known
    id replace the built-in rule, settings given in the user file win."""
    labels = {t.id: t for t in base.taxonomy}
    taxonomy = list(base.taxonomy) + [t for t in extra.taxonomy if t.id not in labels]
    lexicons = {name: {lang: list(terms) for lang, terms in langs.items()}
                for name, langs in base.lexicons.items()}  # fmt: skip
    for name, langs in extra.lexicons.items():
        for lang, terms in langs.items():
            lexicons.setdefault(name, {}).setdefault(lang, []).extend(terms)
    entity_lexicons = {k: list(v) for k, v in base.entity_lexicons.items()}
    for label, names in extra.entity_lexicons.items():
        present = entity_lexicons.setdefault(label, [])
        present.extend(n for n in names if n not in present)
    replaced = {r.id: r for r in extra.rules}
    rules = [replaced.pop(r.id, r) for r in base.rules] + list(replaced.values())
    disabled = set(base.disable_rules) | set(extra.disable_rules)
    settings = base.settings.model_copy(update=extra.settings.model_dump(exclude_unset=True))
    return RulesFile(
        format=FORMAT,
        settings=settings,
        taxonomy=taxonomy,
        lexicons=lexicons,
        entity_lexicons=entity_lexicons,
        rules=[r for r in rules if r.id not in disabled],
    )


def _check(path: Path, rules: RulesFile, *, builtin: dict[str, str]) -> None:
    """Cross-references pydantic cannot see: tags, lexicon names, term syntax."""
    known = {t.id: t.label for t in rules.taxonomy}
    for tag_id, label in known.items():
        if tag_id in builtin and builtin[tag_id] != label:
            raise _fail(path, f"taxonomy id {tag_id!r} is labelled {builtin[tag_id]!r} in the"
                        " built-in rules; tags may be added, never renamed")  # fmt: skip
    missing = [t for t in builtin if t not in known]
    if missing:
        raise _fail(path, f"taxonomy lacks built-in tag ids {missing}; tags are never removed")
    if not rules.taxonomy:
        raise _fail(path, "taxonomy is empty")
    for name, langs in rules.lexicons.items():
        if not re.match(_NAME, name):
            raise _fail(path, f"lexicon name {name!r} must match {_NAME}")
        for lang, terms in langs.items():
            _check_terms(path, f"lexicons.{name}.{lang}", terms, rules, allow_refs=False)
    for label, names in rules.entity_lexicons.items():
        for name in names:
            if name not in rules.lexicons:
                raise _fail(path, f"entity_lexicons.{label}: unknown lexicon {name!r}")
    seen: set[str] = set()
    for i, rule in enumerate(rules.rules):
        where = f"rules[{i}] ({rule.id})"
        if rule.id in seen:
            raise _fail(path, f"{where}: duplicate rule id")
        seen.add(rule.id)
        if rule.tag is not None and rule.tag not in known:
            raise _fail(path, f"{where}: tag {rule.tag!r} is not in the taxonomy")
        if rule.topic_only and rule.tag is None:
            raise _fail(path, f"{where}: topic_only needs a tag (a cue with no tag only adds"
                        " relevance)")  # fmt: skip
        for clause in rule.require:
            for name in clause.split("+"):
                if name not in rules.lexicons:
                    raise _fail(path, f"{where}.require: unknown lexicon {name!r}")
        for name in rule.veto:
            if name not in rules.lexicons:
                raise _fail(path, f"{where}.veto: unknown lexicon {name!r}")
        for lang, terms in rule.terms.items():
            _check_terms(path, f"{where}.terms.{lang}", terms, rules, allow_refs=True)


def _check_terms(
    path: Path, where: str, terms: list[str], rules: RulesFile, *, allow_refs: bool
) -> None:
    for term in terms:
        if not isinstance(term, str) or not term.strip():
            raise _fail(path, f"{where}: empty term")
        if term.startswith("@"):
            if not allow_refs:
                raise _fail(path, f"{where}: {term!r}: lexicon references only in rule terms")
            if term[1:] not in rules.lexicons:
                raise _fail(path, f"{where}: {term!r} names an unknown lexicon")
        elif not _TERM_CHARS.match(term) or term.strip() in ("*",):
            raise _fail(path, f"{where}: {term!r}: '*' is allowed only at the end of a term")


def load_rules(path: Path | None) -> RulesFile:
    """The built-in rules, a user's full copy, or a user file layered with ``"extends"``."""
    builtin = _read(BUILTIN_RULES)
    labels = {t.id: t.label for t in builtin.taxonomy}
    if path is None:
        _check(BUILTIN_RULES, builtin, builtin=labels)
        return builtin
    path = Path(path)
    user = _read(path)
    for entry in user.taxonomy:
        if entry.id in labels and labels[entry.id] != entry.label:
            raise _fail(path, f"taxonomy id {entry.id!r} is labelled {labels[entry.id]!r} in the"
                        " built-in rules; tags may be added, never renamed")  # fmt: skip
    merged = _merge(builtin, user) if user.extends == "builtin" else user
    _check(path, merged, builtin=labels)
    return merged

"""From the Lucene query string an analyst types in Kibana to the query we evaluate.

``luqum`` gives the syntax tree; the meaning is Elasticsearch's ``query_string`` with
``fields: ["title", "body"]`` and ``default_operator: OR`` (see ``pipeline.alerts.rules.es``),
which is Lucene's classic query parser.  Its booleans are *not* precedence-based:
each clause of a parenthesised group gets an occurrence, and ``AND`` only makes the
clause before it and the one after it required.  So ``a AND b OR c`` means ``+a +b c``
(``c`` is optional, i.e. ``a AND b``), ``a OR NOT b`` means ``a -b``, and
``NOT a OR b`` means ``-a b``.  We rebuild the clause sequence from luqum's tree and
apply Lucene's ``addClause`` rule to it, so mixed ``AND``/``OR`` mean here exactly what
they mean in the index.  Write parentheses to say what you mean.

Refused, with the position of the offending part: fuzzy terms (``word~``, their
expansion depends on the index's term dictionary), ranges, regular expressions,
``*``/``field:*``, unknown fields, ``&&``/``||``/``!`` (spell ``AND``/``OR``/``NOT``),
a sign separated from its term (``- a``, which Lucene reads as the word ``-``), terms
with no letter or digit (they match nothing), wildcards inside quotes (Lucene drops
them silently), wildcard patterns that span word-separating punctuation (``e-ma*``: Kibana's
``analyze_wildcard`` would change their meaning) and ``\\u`` escapes.  So are rules past
the limits of ``pipeline.alerts.rules.limits`` (length, nesting, clauses, wildcards,
phrase length, slop), which keep every rule's cost per article small and bounded.

``language="kql"`` reads the rule as Kibana Query Language instead
(``pipeline.alerts.rules.kql`` translates it into the Lucene form this parser checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal, TypeGuard

from luqum import tree as lt
from luqum.exceptions import IllegalCharacterError, ParseError, ParseSyntaxError
from luqum.thread import parse as _luqum_parse

from pipeline.alerts.rules.analysis import (
    DEFAULT_FIELDS,
    KEYWORD_FIELDS,
    RULE_FIELDS,
    analyze,
    lowercase,
)
from pipeline.alerts.rules.errors import RuleSyntaxError
from pipeline.alerts.rules.limits import (
    MAX_CLAUSES,
    MAX_DEPTH,
    MAX_PATTERN_LENGTH,
    MAX_PHRASE_TERMS,
    MAX_RULE_LENGTH,
    MAX_SLOP,
    MAX_WILDCARDS,
)
from pipeline.alerts.rules.query import Bool, Keyword, Phrase, Query, Term, Wildcard
from pipeline.alerts.rules.wildcard import GlobPattern

Language = Literal["lucene", "kql"]
LANGUAGES: Final = ("lucene", "kql")


def is_language(value: str) -> TypeGuard[Language]:
    """Whether ``value`` names a query language rules may be written in."""
    return value in LANGUAGES

_RESERVED: Final = frozenset('!/<>={}[]~^":')
_LUQUM_AT = re.compile(r"at position (\d+)")
_LUQUM_UNEXPECTED = re.compile(r"unexpected\s+'(.*)' at position")
_LUQUM_ILLEGAL = re.compile(r"Illegal character '(.*)' at position", re.DOTALL)


class _Conj(Enum):
    NONE = 0
    AND = 1
    OR = 2


class _Mod(Enum):
    NONE = 0
    NOT = 1
    REQ = 2


class _Occur(Enum):
    MUST = 0
    SHOULD = 1
    MUST_NOT = 2


@dataclass(slots=True)
class _Item:
    conj: _Conj
    mod: _Mod
    node: lt.Item


def parse_rule(query: str, *, language: Language = "lucene") -> Query:
    """Parse and check one rule; raise ``RuleSyntaxError`` if it cannot run as in ES.

    Never raises anything else: whatever the input, the answer is a query or a
    ``RuleSyntaxError`` with a position and a one-line reason.
    """
    if language == "kql":
        from pipeline.alerts.rules.kql import kql_to_lucene  # kql builds on this parser

        return _parse_lucene(kql_to_lucene(query), source=query)
    if language != "lucene":
        raise RuleSyntaxError(0, f"unknown query language {language!r} (use lucene or kql)")
    return _parse_lucene(query)


def _parse_lucene(query: str, *, source: str | None = None) -> Query:
    try:
        return _parse_checked(query)
    except RecursionError as e:  # a last line of defence: the depth check comes first
        raise RuleSyntaxError(
            0, f"rule nested too deeply (at most {MAX_DEPTH} levels)", query=source or query
        ) from e
    except RuleSyntaxError as e:
        if source is not None and source != query:
            # A KQL rule's translation failed as a whole: point at the rule, not at text
            # the user never wrote (leaf errors were already mapped by the translator).
            raise RuleSyntaxError(0, e.message, query=source) from e
        raise


def _check_size(query: str) -> None:
    """Length and parenthesis depth, checked on the text before any recursive parsing."""
    if len(query) > MAX_RULE_LENGTH:
        raise RuleSyntaxError(
            MAX_RULE_LENGTH,
            f"rule too long ({len(query)} characters, at most {MAX_RULE_LENGTH})",
            query=query,
        )
    depth = 0
    quoted = escaped = False
    for i, ch in enumerate(query):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise RuleSyntaxError(
                    i, f"parentheses nested too deeply (at most {MAX_DEPTH} levels)", query=query
                )
        elif ch == ")":
            depth -= 1


def _parse_checked(query: str) -> Query:
    if not query.strip():
        raise RuleSyntaxError(0, "empty rule", query=query)
    _check_size(query)
    try:
        tree = _luqum_parse(query)
    except IllegalCharacterError as e:
        raise _from_luqum(query, e) from e
    except ParseSyntaxError as e:
        raise _from_luqum(query, e) from e
    except (ParseError, ValueError) as e:
        slop = re.search(r"~\d*\.", query)
        position = slop.start() if slop else 0
        message = "proximity must be a whole number" if slop else f"cannot parse: {e}"
        raise RuleSyntaxError(position, message, query=query) from e
    return _Compiler(query).group(tree, None)


def _from_luqum(query: str, error: Exception) -> RuleSyntaxError:
    text = str(error)
    at = _LUQUM_AT.search(text)
    position = int(at.group(1)) if at else len(query)
    illegal = _LUQUM_ILLEGAL.search(text)
    if illegal:
        bad = illegal.group(1)
        message = "unterminated quote" if bad.startswith('"') else f"illegal character {bad[0]!r}"
    elif (unexpected := _LUQUM_UNEXPECTED.search(text)) is not None:
        message = f"unexpected '{unexpected.group(1)}'"
    else:
        message = "unexpected end of rule (unclosed parenthesis, or an operator with no term?)"
    return RuleSyntaxError(position, message, query=query)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def _scan(text: str) -> list[tuple[int, str, bool]]:
    """(offset, char, escaped) for each logical character of a term."""
    out: list[tuple[int, str, bool]] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append((i, text[i + 1], True))
            i += 2
        else:
            out.append((i, text[i], False))
            i += 1
    return out


class _Compiler:
    def __init__(self, query: str) -> None:
        self.query = query
        self.clauses = 0
        self.wildcards = 0

    def _count(self, node: lt.Item, *, wildcard: bool = False) -> None:
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise self._error(node, f"too many terms in one rule (at most {MAX_CLAUSES})")
        if wildcard:
            self.wildcards += 1
            if self.wildcards > MAX_WILDCARDS:
                raise self._error(
                    node, f"too many wildcard patterns in one rule (at most {MAX_WILDCARDS})"
                )

    def _error(self, node: lt.Item, message: str, *, offset: int = 0) -> RuleSyntaxError:
        return RuleSyntaxError((node.pos or 0) + offset, message, query=self.query)

    # -- booleans ----------------------------------------------------------------------

    def group(self, node: lt.Item, field: str | None) -> Query:
        """One parenthesised level: Lucene's ``Query`` production and ``addClause``."""
        items = self._flatten(node, _Conj.NONE)
        if field in KEYWORD_FIELDS:
            items = self._join_multi_terms(items)
        occurs: list[_Occur] = []
        queries: list[Query] = []
        for item in items:
            queries.append(self.clause(item.node, field))
            # Lucene's addClause with the OR default operator: AND makes the clause
            # before it required too, unless that one is prohibited.
            if occurs and item.conj is _Conj.AND and occurs[-1] is not _Occur.MUST_NOT:
                occurs[-1] = _Occur.MUST
            if item.mod is _Mod.NOT:
                occurs.append(_Occur.MUST_NOT)
            elif item.mod is _Mod.REQ or item.conj is _Conj.AND:
                occurs.append(_Occur.MUST)
            else:
                occurs.append(_Occur.SHOULD)
        if len(queries) == 1 and items[0].mod is _Mod.NONE:
            return queries[0]
        by: dict[_Occur, list[Query]] = {o: [] for o in _Occur}
        for occur, query in zip(occurs, queries, strict=True):
            by[occur].append(query)
        return Bool(
            must=tuple(by[_Occur.MUST]),
            should=tuple(by[_Occur.SHOULD]),
            must_not=tuple(by[_Occur.MUST_NOT]),
        )

    def _flatten(self, node: lt.Item, conj: _Conj) -> list[_Item]:
        """luqum nests AND above OR; Lucene reads a flat run of clauses.  Undo it."""
        if isinstance(node, lt.AndOperation | lt.OrOperation | lt.UnknownOperation):
            op = (
                _Conj.AND
                if isinstance(node, lt.AndOperation)
                else _Conj.OR
                if isinstance(node, lt.OrOperation)
                else _Conj.NONE
            )
            items: list[_Item] = []
            for i, child in enumerate(node.children):
                items.extend(self._flatten(child, conj if i == 0 else op))
            return items
        if isinstance(node, lt.Not | lt.Prohibit | lt.Plus):
            inner = node.a
            if isinstance(node, lt.Prohibit | lt.Plus):
                after = self.query[(node.pos or 0) + 1 : (node.pos or 0) + 2]
                if after.isspace():
                    sign = "-" if isinstance(node, lt.Prohibit) else "+"
                    raise self._error(
                        node, f"'{sign}' must touch its term (write {sign}word, not {sign} word)"
                    )
            if isinstance(inner, lt.Not | lt.Prohibit | lt.Plus | lt.BaseOperation):
                raise self._error(inner, "one NOT, - or + per term")
            mod = _Mod.REQ if isinstance(node, lt.Plus) else _Mod.NOT
            return [_Item(conj, mod, inner)]
        return [_Item(conj, _Mod.NONE, node)]

    @staticmethod
    def _is_plain_term(item: _Item) -> bool:
        if item.mod is not _Mod.NONE or item.conj is not _Conj.NONE:
            return False
        node = item.node
        return isinstance(node, lt.Word) and not any(
            ch in "*?" and not escaped for _, ch, escaped in _scan(node.value)
        )

    def _join_multi_terms(self, items: list[_Item]) -> list[_Item]:
        """Lucene's ``MultiTerm``: ``persons:(Ana Ruiz)`` is the one value "Ana Ruiz".

        Consecutive bare words reach the field's analyzer as one text; a keyword field
        keeps it whole.  A word is left out when the clause after it is joined by
        AND/OR, exactly as the classic parser's look-ahead does.
        """
        out: list[_Item] = []
        i = 0
        while i < len(items):
            j = i
            if self._is_plain_term(items[i]):
                while (
                    j + 1 < len(items)
                    and self._is_plain_term(items[j + 1])
                    and (j + 2 >= len(items) or items[j + 2].conj is _Conj.NONE)
                ):
                    j += 1
            if j == i:
                out.append(items[i])
            else:
                text = " ".join(item.node.value for item in items[i : j + 1])
                word = lt.Word(text, pos=items[i].node.pos, size=len(text))
                out.append(_Item(_Conj.NONE, _Mod.NONE, word))
            i = j + 1
        return out

    # -- clauses -----------------------------------------------------------------------

    def clause(self, node: lt.Item, field: str | None) -> Query:
        if isinstance(node, lt.Group | lt.FieldGroup):
            return self.group(node.expr, field)
        if isinstance(node, lt.SearchField):
            return self._search_field(node)
        if isinstance(node, lt.Boost):
            return self.clause(node.expr, field)  # boosts change scores, not matches
        if isinstance(node, lt.Word):
            return self._word(node, field)
        if isinstance(node, lt.Phrase):
            return self._phrase(node, field, slop=0)
        if isinstance(node, lt.Proximity):
            source = self.query[(node.pos or 0) : (node.pos or 0) + (node.size or 0)]
            if source.rstrip().endswith("~") or not isinstance(node.term, lt.Phrase):
                raise self._error(node, 'proximity needs a phrase and a number, e.g. "a b"~5')
            slop = int(node.degree)
            if slop > MAX_SLOP:
                raise self._error(node, f"proximity ~{slop} is too large (at most ~{MAX_SLOP})")
            return self._phrase(node.term, field, slop=slop)
        if isinstance(node, lt.Fuzzy):
            raise self._error(
                node,
                "fuzzy terms (word~) are not supported: Elasticsearch expands them "
                "against the index's terms, which the stream cannot do the same way",
            )
        if isinstance(node, lt.Range | lt.From | lt.To):
            raise self._error(node, "ranges ([a TO b], >x) are not supported in alert rules")
        if isinstance(node, lt.Regex):
            raise self._error(node, "regular expressions (/.../) are not supported")
        if isinstance(node, lt.Not | lt.Prohibit | lt.Plus):
            raise self._error(node, "NOT, - and + go before a field, not after it")
        raise self._error(node, f"unsupported construct {str(node)!r}")

    def _search_field(self, node: lt.SearchField) -> Query:
        name = node.name
        if name not in RULE_FIELDS:
            raise self._error(node, f"unknown field '{name}' (fields: {', '.join(RULE_FIELDS)})")
        expr = node.expr
        if isinstance(expr, lt.SearchField):
            raise self._error(expr, "a field cannot contain another field without parentheses")
        return self.clause(expr, name)

    def _word(self, node: lt.Word, field: str | None) -> Query:
        raw = node.value
        if raw in ("&&", "||"):
            raise self._error(node, f"write {'AND' if raw == '&&' else 'OR'} instead of {raw}")
        chars = _scan(raw)
        wildcard = False
        for offset, ch, escaped in chars:
            if escaped:
                if ch == "u":
                    raise self._error(node, "\\u escapes are not supported", offset=offset)
                continue
            if ch in _RESERVED or raw[offset : offset + 2] in ("&&", "||"):
                hint = " (write NOT)" if ch == "!" else ""
                raise self._error(
                    node, f"'{ch}' must be escaped with a backslash{hint}", offset=offset
                )
            wildcard = wildcard or ch in "*?"
        if wildcard:
            self._count(node, wildcard=True)
            return self._wildcard(node, chars, field)
        self._count(node)
        value = _unescape(raw)
        if field in KEYWORD_FIELDS:
            return Keyword(field, value)
        return self._analyzed(node, value, field, slop=None)

    def _wildcard(
        self, node: lt.Word, chars: list[tuple[int, str, bool]], field: str | None
    ) -> Query:
        if not any(ch not in "*?" or escaped for _, ch, escaped in chars):
            raise self._error(node, "a pattern needs at least one letter or digit")
        if len(chars) > MAX_PATTERN_LENGTH:
            raise self._error(
                node, f"wildcard pattern too long (at most {MAX_PATTERN_LENGTH} characters)"
            )
        keyword = field in KEYWORD_FIELDS
        if not keyword:
            self._check_text_pattern(node, chars)
        parts: list[str] = []
        prefix: list[str] = []
        in_prefix = True
        for _, ch, escaped in chars:
            if not escaped and ch in "*?":
                parts.append(ch)
                in_prefix = False
                continue
            # Text fields: ES lowercases the pattern; keyword fields are case-sensitive.
            literal = ch if keyword else lowercase(ch)
            parts.append("\\" + literal if escaped else literal)
            if in_prefix:
                prefix.append(literal)
        pattern = "".join(parts)
        fields = (field,) if field is not None else DEFAULT_FIELDS
        return Wildcard(fields, pattern, "".join(prefix), keyword, GlobPattern.compile(pattern))

    def _check_text_pattern(self, node: lt.Word, chars: list[tuple[int, str, bool]]) -> None:
        """Each literal piece of a text pattern must be one whole term.

        Then ``analyze_wildcard`` true (Kibana) and false (ES's default) build the same
        query, and it is the lowercased pattern tried against each term.
        """
        piece: list[tuple[int, str]] = []
        for offset, ch, escaped in [*chars, (len(node.value), "*", False)]:
            if escaped:
                raise self._error(node, "no escapes inside a wildcard pattern", offset=offset)
            if ch not in "*?":
                piece.append((offset, ch))
                continue
            if piece:
                text = "".join(c for _, c in piece)
                if analyze(text) != [lowercase(text)]:
                    raise self._error(
                        node,
                        f"'{text}' is not one word: a wildcard pattern cannot span "
                        "punctuation that separates words",
                        offset=piece[0][0],
                    )
            piece = []

    def _phrase(self, node: lt.Phrase, field: str | None, *, slop: int) -> Query:
        self._count(node)
        inner = node.value[1:-1]
        for offset, ch, escaped in _scan(inner):
            if not escaped and ch in "*?":
                raise self._error(
                    node,
                    "wildcards do not work inside quotes (Elasticsearch ignores them)",
                    offset=offset + 1,
                )
        value = _unescape(inner)
        if field in KEYWORD_FIELDS:
            if not value:
                raise self._error(node, "empty phrase")
            return Keyword(field, value)
        return self._analyzed(node, value, field, slop=slop)

    def _analyzed(self, node: lt.Item, text: str, field: str | None, *, slop: int | None) -> Query:
        """A term or phrase on text fields, cut into terms the way the index cut them."""
        fields = (field,) if field is not None else DEFAULT_FIELDS
        terms = analyze(text)
        if not terms:
            raise self._error(node, f"{str(node)!r} has no letter or digit, so it matches nothing")
        if len(terms) == 1:
            return Term(fields, terms[0])
        if slop is not None and len(terms) > MAX_PHRASE_TERMS:
            raise self._error(
                node, f"phrase too long ({len(terms)} terms, at most {MAX_PHRASE_TERMS})"
            )
        if slop is None:
            # An unquoted word the analyzer splits (e-mail, AT&T): ES ORs the pieces.
            return Bool(should=tuple(Term(fields, t) for t in terms))
        return Phrase(fields, tuple(terms), slop)

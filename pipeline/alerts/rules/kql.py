"""Kibana Query Language (KQL), Kibana's default, read as the Lucene rule it means.

An analyst copies a query from Kibana's search bar; in KQL ``and``/``or``/``not`` are
operators in any case and bind ``not`` > ``and`` > ``or``, while in Lucene a lower-case
``and`` is a search term.  This module parses KQL with the grammar of Kibana's own
parser (``kuery.peg`` in ``@kbn/es-query``) and writes the Lucene query string with the
same meaning, fully parenthesised, which ``parse_rule`` then checks and compiles; the
index side runs that same Lucene text, so search, alerts and Kibana agree.

How Kibana turns KQL into Elasticsearch queries, and what we write for it:

* ``word other`` (no field) is one value: ``multi_match`` over the default fields, any
  term → ``(word other)``;
* ``"a phrase"`` → ``match_phrase`` → ``"a phrase"`` (KQL has no proximity);
* ``migra*`` → ``query_string`` on the default fields → ``migra*``; KQL's only wildcard
  is ``*`` (a ``?`` is a literal character);
* ``field:value`` → ``match`` on the field: text fields get ``field:(value words)``,
  keyword fields the exact value ``field:"value"``; ``field:(a or b)`` spreads the field
  over each value;
* ``a and b`` → both, ``a or b`` → either, ``not a`` → everything but ``a``.

Refused with the position: ranges (``field > 5``), nested queries (``field:{…}``),
``field:*`` (exists), field-name wildcards, and what the Lucene checks refuse.
"""

from __future__ import annotations

import re
from typing import Final

from pipeline.alerts.rules.analysis import KEYWORD_FIELDS, RULE_FIELDS
from pipeline.alerts.rules.errors import RuleSyntaxError
from pipeline.alerts.rules.limits import MAX_DEPTH, MAX_RULE_LENGTH

_SPACE: Final = " \t\r\n"
_SPECIAL: Final = frozenset('\\():<>"*{}')
_KEYWORD = re.compile(r"[ \t\r\n]+(?:or|and)[ \t\r\n]+|not[ \t\r\n]+", re.IGNORECASE)
_OR = re.compile(r"[ \t\r\n]+or[ \t\r\n]+", re.IGNORECASE)
_AND = re.compile(r"[ \t\r\n]+and[ \t\r\n]+", re.IGNORECASE)
_NOT = re.compile(r"not[ \t\r\n]+", re.IGNORECASE)
_ESCAPED_KEYWORD = re.compile(r"(?:or|and|not)", re.IGNORECASE)
_LUCENE_SPECIAL = re.compile(r'([+\-=&|><!(){}\[\]^"~*?:\\/ ])')
_LUCENE_OPERATORS: Final = frozenset(("AND", "OR", "NOT", "TO"))
_WILDCARD: Final = "\x00"  # an unescaped '*' inside a parsed value


def kql_to_lucene(query: str) -> str:
    """The Lucene rule with the meaning of the KQL ``query``.

    Raises:
        RuleSyntaxError: not KQL, or KQL that an alert rule cannot run (position in
            ``query``).
    """
    if not query.strip():
        raise RuleSyntaxError(0, "empty rule", query=query)
    if len(query) > MAX_RULE_LENGTH:
        raise RuleSyntaxError(
            MAX_RULE_LENGTH,
            f"rule too long ({len(query)} characters, at most {MAX_RULE_LENGTH})",
            query=query,
        )
    return _Parser(query).parse()


def _lucene_words(value: str, *, wildcard: bool) -> str:
    """Words of a value, each escaped for Lucene; ``*`` stays a wildcard if asked."""
    words = []
    for word in value.split():
        if word in _LUCENE_OPERATORS:
            words.append(f'"{word}"')
            continue
        escaped = _LUCENE_SPECIAL.sub(r"\\\1", word)
        if wildcard:
            escaped = escaped.replace(_WILDCARD, "*")
        words.append(escaped)
    return " ".join(words)


def _lucene_phrase(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Parser:
    """Recursive descent over Kibana's grammar (``OrQuery`` … ``UnquotedLiteral``)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.depth = 0

    # -- helpers -----------------------------------------------------------------------
    def _error(self, message: str, at: int | None = None) -> RuleSyntaxError:
        return RuleSyntaxError(self.i if at is None else at, message, query=self.text)

    def _skip(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in _SPACE:
            self.i += 1

    def _peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def _take(self, pattern: re.Pattern[str]) -> bool:
        found = pattern.match(self.text, self.i)
        if found is None:
            return False
        self.i = found.end()
        return True

    def _check(self, lucene: str, at: int) -> str:
        """Run the Lucene checks on one translated piece, reporting at its KQL place."""
        from pipeline.alerts.rules.parser import parse_rule  # the parser imports us lazily

        try:
            parse_rule(lucene)
        except RuleSyntaxError as e:
            message = e.message
            if message.startswith("no escapes inside a wildcard pattern"):
                # The escape is ours (a '-' or '.' of the KQL value): say it in KQL terms.
                message = "a wildcard pattern must be one word (no '-', '/', ... inside it)"
            raise self._error(message, at) from e
        return lucene

    # -- queries -----------------------------------------------------------------------
    def parse(self) -> str:
        self._skip()
        out = self._or(None)
        self._skip()
        if self.i < len(self.text):
            raise self._error(f"unexpected {self._peek()!r} (expected and, or, or the end)")
        return out

    def _or(self, field: str | None) -> str:
        parts = [self._and(field)]
        while self._take(_OR):
            parts.append(self._and(field))
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def _and(self, field: str | None) -> str:
        parts = [self._not(field)]
        while self._take(_AND):
            parts.append(self._not(field))
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def _not(self, field: str | None) -> str:
        if self._take(_NOT):
            return f"(NOT {self._sub(field)})"
        return self._sub(field)

    def _sub(self, field: str | None) -> str:
        if self._peek() == "(":
            start = self.i
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self._error(f"parentheses nested too deeply (at most {MAX_DEPTH} levels)")
            self.i += 1
            self._skip()
            inner = self._or(field)
            self._skip()
            if self._peek() != ")":
                raise self._error(
                    "expected ')'" if self._peek() else f"'(' at position {start} is not closed"
                )
            self.i += 1
            self.depth -= 1
            return f"({inner})"
        if field is not None:
            return self._value(field)
        return self._expression()

    def _expression(self) -> str:
        start = self.i
        literal, quoted, wildcard = self._literal()
        after = self.i
        self._skip()
        nxt = self._peek()
        if nxt == ":":
            return self._field_value(literal, quoted, wildcard, start)
        if nxt in ("<", ">"):
            raise self._error("ranges (field > value) are not supported in alert rules")
        self.i = after
        return self._leaf(None, literal, quoted, wildcard, start)

    def _field_value(self, name: str, quoted: bool, wildcard: bool, start: int) -> str:
        if quoted or wildcard or name not in RULE_FIELDS:
            raise self._error(
                f"unknown field {name.replace(_WILDCARD, '*')!r} "
                f"(fields: {', '.join(RULE_FIELDS)})",
                start,
            )
        self.i += 1  # ':'
        self._skip()
        if self._peek() == "{":
            raise self._error("nested queries (field:{…}) are not supported")
        return self._sub(name)

    def _value(self, field: str) -> str:
        start = self.i
        literal, quoted, wildcard = self._literal()
        return self._leaf(field, literal, quoted, wildcard, start)

    def _leaf(self, field: str | None, value: str, quoted: bool, wildcard: bool, at: int) -> str:
        prefix = f"{field}:" if field else ""
        if wildcard:
            if not value.replace(_WILDCARD, "").strip():
                raise self._error(
                    "'*' alone (any value, or a field exists) is not supported in alert rules",
                    at,
                )
            words = _lucene_words(value, wildcard=True)
            body = f"({words})" if " " in words else words
        elif quoted or field in KEYWORD_FIELDS:
            body = _lucene_phrase(value)
        else:
            words = _lucene_words(value, wildcard=False)
            if not words:
                raise self._error("empty value", at)
            body = f"({words})" if " " in words else words
        return self._check(prefix + body, at)

    def _literal(self) -> tuple[str, bool, bool]:
        """A quoted string or an unquoted literal: (value, quoted, has a wildcard)."""
        text = self.text
        if self._peek() == '"':
            start = self.i
            self.i += 1
            out: list[str] = []
            while self.i < len(text) and text[self.i] != '"':
                if text[self.i] == "\\" and self.i + 1 < len(text):
                    self.i += 1
                out.append(text[self.i])
                self.i += 1
            if self.i >= len(text):
                raise self._error("unterminated quote", start)
            self.i += 1
            return "".join(out), True, False
        out = []
        wildcard = False
        while self.i < len(text):
            ch = text[self.i]
            if ch == "\\":
                nxt = text[self.i + 1 : self.i + 2]
                if nxt in ("t", "r", "n"):
                    out.append({"t": "\t", "r": "\r", "n": "\n"}[nxt])
                    self.i += 2
                    continue
                if nxt and nxt in _SPECIAL:
                    out.append(nxt)
                    self.i += 2
                    continue
                keyword = _ESCAPED_KEYWORD.match(text, self.i + 1)
                if keyword is not None:
                    out.append(keyword.group())
                    self.i = keyword.end()
                    continue
                raise self._error("a backslash escapes a special character: write \\\\ for one")
            if ch == "*":
                out.append(_WILDCARD)
                wildcard = True
                self.i += 1
                continue
            if ch in _SPECIAL or _KEYWORD.match(text, self.i):
                break
            out.append(ch)
            self.i += 1
        value = "".join(out).strip(_SPACE)
        if not value:
            found = repr(self._peek()) if self._peek() else "the end of the rule"
            raise self._error(f"expected a value, found {found}")
        return value, False, wildcard

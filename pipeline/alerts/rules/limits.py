"""What a rule may contain: explicit limits that keep matching bounded for every article.

Matching runs on the worker's event loop, next to ingestion and indexing, so no rule may
cost more than a small, predictable amount per article.  Every construct is matched in
time linear in the article (wildcards without backtracking, sloppy phrases by a walk over
position lists); these limits bound the rule's side of the product.  Where Elasticsearch
has a limit of its own (``indices.query.bool.max_clause_count``, the nesting depth of
boolean queries, ``max_token_length``) ours is at or below it, so a rule that runs here
also runs in the index.  Each is refused with the position of the part that crosses it.
"""

from __future__ import annotations

from typing import Final

MAX_RULE_LENGTH: Final = 4_000
"""Characters in a rule (the ``AlertRule.query`` field has the same bound)."""

MAX_DEPTH: Final = 20
"""Nested parentheses (Elasticsearch refuses boolean queries nested deeper than 30)."""

MAX_CLAUSES: Final = 256
"""Terms, phrases and patterns in one rule (Elasticsearch's own clause limit is higher)."""

MAX_WILDCARDS: Final = 16
"""Wildcard patterns in one rule: each may be tried against every term of an article."""

MAX_PATTERN_LENGTH: Final = 255
"""Characters in one wildcard pattern (a term is never longer than 255 characters)."""

MAX_PHRASE_TERMS: Final = 32
"""Terms in one quoted phrase."""

MAX_SLOP: Final = 10_000
"""Proximity ``"a b"~N``: more than this many moves says nothing an article can show."""

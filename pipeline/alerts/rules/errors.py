"""The one error a rule can raise: it is refused, with where and why."""

from __future__ import annotations

from pipeline.core.errors import NewsflowError


class RuleSyntaxError(NewsflowError, ValueError):
    """A rule that cannot be parsed, or that uses something we refuse to match.

    ``position`` is a 0-based character offset into the query, so a UI can put a caret
    under it; ``str(e)`` is one line (``position 14: unexpected ')'``) for a CLI.
    """

    def __init__(self, position: int, message: str, *, query: str | None = None) -> None:
        self.position = position
        self.message = message
        self.query = query
        super().__init__(f"position {position}: {message}")

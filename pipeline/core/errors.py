"""The root of every error newsflow raises on purpose.

``except NewsflowError`` is how the CLI and the API tell a failure the user can act on (its
message is one line, meant to be shown as is) from a bug.  Subclasses that also derive from a
built-in (``ValueError``, ``RuntimeError``, ``KeyError``) keep it for callers that catch those.
"""


class NewsflowError(Exception):
    """A failure the user can act on; the message is one line."""

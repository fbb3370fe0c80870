"""Stable article ids, so that publishing the same article twice never makes two.

An id is, in order of preference:

1. the id the publisher gave (``RawArticle.id``), untouched;
2. ``url-`` + 24 hex digits of the SHA-256 of the canonical URL (see :func:`canonical_url`):
   the same page reached through a tracking link, with a fragment, a trailing slash or its
   query parameters in another order gets the same id;
3. ``text-`` + 24 hex digits of the SHA-256 of the normalised body (NFKC, casefold, runs of
   whitespace collapsed): a pasted article re-published with different line wrapping gets the
   same id.  The title is left out on purpose: a corrected headline updates the article
   rather than duplicating it.

96 bits of hash keep collisions out of reach for any realistic archive while the id stays
short enough to read in logs.  Both derived forms match ``schemas.articles.ArticleId``.

A feed entry whose link is not a web address (``urn:…``) gets ``guid-`` + the digest of its
guid (:func:`guid_id`): guids are meant to be permanent and unique, and unlike the text
they survive a corrected typo.
"""

from __future__ import annotations

import hashlib
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from schemas import RawArticle

_HEX_CHARS = 24
# Parameters that say how a reader arrived, not which article they read.
_TRACKING_PARAMS = frozenset({"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def article_id(raw: RawArticle) -> str:
    """The article's id: the given one, else derived from its URL, else from its text."""
    if raw.id:
        return raw.id
    if raw.url is not None:
        return "url-" + _digest(canonical_url(str(raw.url)))
    return "text-" + _digest(normalise_text(raw.body))


def guid_id(guid: str) -> str:
    """The id of a feed entry known only by its guid (``urn:uuid:…``, ``tag:…``)."""
    return "guid-" + _digest(guid.strip())


def canonical_url(url: str) -> str:
    """One spelling per page: lowercase scheme and host, no default port, no fragment, no
    tracking parameters (``utm_*``, ``fbclid``, ``gclid`` …), query sorted, no trailing slash.

    Credentials in the authority are dropped too: they say who fetched the page, not which.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(key)
    )
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def normalise_text(text: str) -> str:
    """Text as compared for identity: NFKC, casefolded, whitespace runs made one space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _is_tracking(key: str) -> bool:
    key = key.lower()
    return key.startswith("utm_") or key in _TRACKING_PARAMS


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_HEX_CHARS]

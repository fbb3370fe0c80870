"""The Elasticsearch sink: bulk-write documents with ``_id`` = their id (articles, alerts).

Ids are deterministic, so writing the same document twice overwrites it and replays after
a crash are harmless.
Failures split in two: the cluster being unreachable or overloaded (``IndexUnavailable``:
retry later and do not commit) and documents it refuses (returned: dead-letter them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from elasticsearch import ApiError, Elasticsearch, TransportError
from elasticsearch.helpers import streaming_bulk

from pipeline.core.errors import NewsflowError
from schemas import Alert, EnrichedArticle


class IndexUnavailable(NewsflowError):
    """Elasticsearch cannot take writes right now; the batch must be retried as a whole."""


@dataclass(frozen=True)
class Rejected:
    id: str
    status: int
    reason: str


def _actions(documents: Iterable[tuple[str, object]], index: str) -> Iterator[dict]:
    for doc_id, source in documents:
        yield {"_op_type": "index", "_index": index, "_id": doc_id, "_source": source}


def _describe(error: object) -> str:
    if isinstance(error, dict):
        caused = error.get("caused_by", {}).get("reason")
        reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        return f"{reason} ({caused})" if caused else reason
    return str(error)


def index_documents(
    es: Elasticsearch, documents: Sequence[EnrichedArticle | Alert], *, index: str, **options: int
) -> list[Rejected]:
    """Index ``documents`` (articles, alerts); see ``index_sources``."""
    sources = ((d.id, d.model_dump(mode="json")) for d in documents)
    return index_sources(es, sources, index=index, **options)


def index_sources(
    es: Elasticsearch,
    sources: Iterable[tuple[str, bytes | dict]],
    *,
    index: str,
    max_retries: int = 3,
    chunk_size: int = 500,
) -> list[Rejected]:
    """Index ``(id, source)`` pairs, a source being a dict or JSON already written (sent
    as it is); return the documents refused.

    Raises ``IndexUnavailable`` when the cluster is down, overloaded past the retries
    (429) or failing on its side (5xx), so that nothing is acknowledged.
    """
    rejected: list[Rejected] = []
    try:
        for ok, item in streaming_bulk(
            es,
            _actions(sources, index),
            chunk_size=chunk_size,
            max_retries=max_retries,
            initial_backoff=0.5,
            max_backoff=5,
            raise_on_error=False,
            raise_on_exception=True,
            yield_ok=False,
        ):
            if ok:
                continue
            result = item["index"]
            status = int(result.get("status", 500))
            if status == 429 or status >= 500:
                raise IndexUnavailable(f"{status} {_describe(result.get('error'))}")
            rejected.append(Rejected(result["_id"], status, _describe(result.get("error"))))
    except (TransportError, ApiError) as e:
        raise IndexUnavailable(f"Elasticsearch unavailable: {e}") from e
    return rejected

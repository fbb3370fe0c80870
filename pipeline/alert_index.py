"""The alerts' Elasticsearch sink: every alert a rule fires, ``_id`` = alert id.

The id is deterministic per rule and story, so a replay overwrites the same document.
Failures split like the article writer's: ``IndexUnavailable`` (retry the whole batch
later) or documents refused (returned, for the dead letters).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from elasticsearch import ApiError, Elasticsearch, TransportError
from elasticsearch.helpers import streaming_bulk

from pipeline.index_writer import IndexUnavailable, Rejected
from schemas import Alert

__all__ = ["IndexUnavailable", "Rejected", "index_alerts"]


def _actions(alerts: Sequence[Alert], index: str) -> Iterator[dict]:
    for alert in alerts:
        yield {
            "_op_type": "index",
            "_index": index,
            "_id": alert.id,
            "_source": alert.model_dump(mode="json"),
        }


def index_alerts(
    es: Elasticsearch, alerts: Sequence[Alert], *, index: str, max_retries: int = 3
) -> list[Rejected]:
    """Index ``alerts``; return those Elasticsearch refused (``article_id`` holds the alert id).

    Raises:
        IndexUnavailable: the cluster is down, overloaded past the retries, or failing.
    """
    rejected: list[Rejected] = []
    try:
        for ok, item in streaming_bulk(
            es,
            _actions(alerts, index),
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
            error = result.get("error")
            reason = (f"{error.get('type')}: {error.get('reason')}"
                      if isinstance(error, dict) else str(error))
            if status == 429 or status >= 500:
                raise IndexUnavailable(f"{status} {reason}")
            rejected.append(Rejected(result["_id"], status, reason))
    except (TransportError, ApiError) as e:
        raise IndexUnavailable(f"Elasticsearch unavailable: {e}") from e
    return rejected

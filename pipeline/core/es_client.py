"""The one way the project builds an Elasticsearch client.

Every component that talks to Elasticsearch (indexer, search, alert store, setup, API)
calls :func:`es_client` so that authentication, TLS, timeouts and retries are decided in
one place from ``Settings`` and cannot drift between components.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from pipeline.core.settings import Settings

# Retry on the statuses a busy or restarting node answers with; a 4xx other than 429 is a
# bug in the request and retrying it only delays the error.
_RETRY_ON_STATUS = (429, 502, 503, 504)


def es_client(
    settings: Settings,
    *,
    request_timeout: float = 30.0,
    max_retries: int = 3,
) -> Elasticsearch:
    """A client for ``settings.es.url`` as ``settings.es.user`` with ``settings.es_secret()``.

    Args:
        settings: where the cluster is and how to authenticate (user, password or password
            file, CA file for HTTPS with a private CA).
        request_timeout: seconds before one request is abandoned (and retried).
        max_retries: retries on connection errors, timeouts and 429/502/503/504.
    """
    secret = settings.es_secret()
    options: dict[str, Any] = {}
    if secret is not None:
        options["basic_auth"] = (settings.es.user, secret)
    ca_file = settings.es_ca_file()
    if ca_file is not None:
        options["ca_certs"] = str(ca_file)
    return Elasticsearch(
        settings.es.url,
        **options,
        request_timeout=request_timeout,
        max_retries=max_retries,
        retry_on_timeout=True,
        retry_on_status=_RETRY_ON_STATUS,
    )

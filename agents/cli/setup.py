"""``newsflow setup``: topics, index templates and aliases, idempotently."""

from __future__ import annotations

import typer
from elasticsearch import ApiError, TransportError
from kafka.errors import KafkaError

from pipeline.core.es_client import es_client
from pipeline.core.settings import get_settings
from pipeline.operations.setup import create_topics, install_indices


def setup_command() -> None:
    """Create the Kafka topics and install the Elasticsearch templates and aliases.

    Safe to run again: existing topics and indices are left as they are.
    """
    settings = get_settings()
    try:
        topics = create_topics(settings)
    except KafkaError as e:
        typer.echo(f"error: Kafka at {settings.kafka.bootstrap} is not reachable ({e}); "
                   "is the stack up? run `newsflow stack up`", err=True)
        raise typer.Exit(2) from e
    try:
        indices = install_indices(es_client(settings), settings)
    except (ApiError, TransportError) as e:
        typer.echo(f"error: Elasticsearch at {settings.es.url} refused setup ({e}); "
                   "is the stack up? run `newsflow stack up`", err=True)
        raise typer.Exit(2) from e
    typer.echo(f"topics: {', '.join(topics) if topics else 'all present'}")
    typer.echo(f"indices: {', '.join(indices) if indices else 'all present'} "
               f"(templates installed)")

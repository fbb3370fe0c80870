"""Put articles on ``news.raw``: read every source, key each article by its stable id, send.

Delivery is checked, not hoped for: the producer waits for all in-sync replicas
(``acks="all"``), is idempotent (kafka-python 3 and brokers ≥ 0.11, so its own retries never
duplicate), and every send's future is resolved before we report; a send that failed is
reported as rejected with the broker's reason, never silently lost.  Because the key is the
article id (``pipeline.ingest.ids``), publishing the same files again writes the same keys and the
rest of the pipeline overwrites instead of duplicating.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from kafka import KafkaProducer
from kafka.codec import has_lz4, has_zstd
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.producer.future import FutureRecordMetadata
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from pipeline.core.errors import NewsflowError
from pipeline.core.kafka_client import client_kwargs
from pipeline.core.settings import Settings
from pipeline.ingest.ids import article_id
from pipeline.ingest.inputs import Item, Parsed, Rejected, read_sources
from schemas import RawArticle

# Resolve finished sends every so often so memory stays flat on huge inputs.
_DRAIN_EVERY = 1_000


class PublishError(NewsflowError):
    """Publishing could not run at all (as opposed to single articles being rejected)."""


class KafkaUnavailable(PublishError):
    """No broker answered at the bootstrap address."""


@dataclass
class PublishSummary:
    """What a run did: how many articles the broker acknowledged, and what it refused."""

    published: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    topic: str | None = None
    # Fields dropped or cleaned in articles that were kept: (origin, note), also in metadata.
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


def publish(
    sources: Iterable[str | Path],
    *,
    settings: Settings,
    progress: bool = False,
    dry_run: bool = False,
    stdin: TextIO | None = None,
    connect_timeout: float = 10.0,
    flush_timeout: float = 120.0,
) -> PublishSummary:
    """Publish every article in ``sources`` (files, directories, ``-`` for stdin).

    Args:
        sources: paths or ``-``; each file is parsed on its own, so one bad file is one
            rejection and the others still go.
        settings: bootstrap, security and ``topic_raw``.
        progress: show a live count on stderr (only when stderr is a terminal).
        dry_run: parse and validate only; ``published`` counts what would be sent.
        stdin: stream to read for ``-`` (default ``sys.stdin``).
        connect_timeout: seconds to wait for the broker before ``KafkaUnavailable``.
        flush_timeout: seconds to wait for the last acknowledgements.

    Raises:
        KafkaUnavailable: no broker at ``settings.kafka.bootstrap``.
        PublishError: the topic's metadata never became available.
    """
    summary = PublishSummary(topic=None if dry_run else settings.topics.raw)
    items = read_sources(sources, stdin=stdin)
    with _progress(enabled=progress, verb="read" if dry_run else "sent") as tick:
        if dry_run:
            for item in items:
                _count(summary, item)
                tick(summary)
            return summary
        producer = _producer(settings, connect_timeout=connect_timeout)
        try:
            _send_all(producer, items, settings.topics.raw, summary, tick,
                      flush_timeout=flush_timeout)
        finally:
            producer.close(timeout=5)
    return summary


def encode(article: RawArticle) -> tuple[bytes, bytes]:
    """Key and value as they go on the wire: the id, and the article with that id filled in."""
    ident = article_id(article)
    value = article.model_copy(update={"id": ident}).model_dump_json(exclude_none=True)
    return ident.encode("utf-8"), value.encode("utf-8")


def compression() -> str:
    """The best codec whose library is installed; gzip is always there."""
    if has_zstd():
        return "zstd"
    if has_lz4():
        return "lz4"
    return "gzip"


def _producer(settings: Settings, *, connect_timeout: float) -> KafkaProducer:
    try:
        return KafkaProducer(
            **client_kwargs(settings),
            acks="all",
            enable_idempotence=True,
            compression_type=compression(),
            linger_ms=20,
            max_request_size=settings.kafka.max_message_bytes,
            bootstrap_timeout_ms=int(connect_timeout * 1000),
            max_block_ms=int(max(connect_timeout, 10.0) * 1000),
        )
    except KafkaTimeoutError as e:
        raise KafkaUnavailable(
            f"no Kafka broker answered at {settings.kafka.bootstrap} within {connect_timeout:g}s"
        ) from e
    except KafkaError as e:
        raise KafkaUnavailable(f"cannot connect to Kafka at {settings.kafka.bootstrap}: {e}") from e


def _send_all(producer: KafkaProducer, items: Iterator[Item], topic: str,
              summary: PublishSummary, tick: Any, *, flush_timeout: float) -> None:
    pending: deque[tuple[str, FutureRecordMetadata]] = deque()
    for item in items:
        if isinstance(item, Rejected):
            summary.rejected.append((item.origin, item.reason))
            continue
        summary.notes.extend((item.origin, note) for note in item.notes)
        key, value = encode(item.article)
        try:
            pending.append((item.origin, producer.send(topic, key=key, value=value)))
        except KafkaTimeoutError as e:
            raise PublishError(f"topic {topic!r} is not available: {e}") from e
        except KafkaError as e:
            summary.rejected.append((item.origin, f"not sent: {e}"))
        if len(pending) >= _DRAIN_EVERY:
            _resolve(pending, summary, only_done=True)
        tick(summary, pending=len(pending))
    # What is still pending after the timeout is reported below, send by send.
    with suppress(KafkaTimeoutError):
        producer.flush(timeout=flush_timeout)
    _resolve(pending, summary, only_done=False)
    tick(summary)


def _resolve(pending: deque[tuple[str, FutureRecordMetadata]], summary: PublishSummary,
             *, only_done: bool) -> None:
    while pending and (not only_done or pending[0][1].is_done):
        origin, future = pending.popleft()
        if not future.is_done:
            summary.rejected.append((origin, "no acknowledgement from the broker in time"))
            continue
        try:
            future.get(timeout=0)
        except Exception as e:  # any failure of a send is a rejection, never a loss
            summary.rejected.append((origin, f"broker refused it: {e}"))
        else:
            summary.published += 1


def _count(summary: PublishSummary, item: Item) -> None:
    if isinstance(item, Parsed):
        summary.published += 1
        summary.notes.extend((item.origin, note) for note in item.notes)
    else:
        summary.rejected.append((item.origin, item.reason))


@contextmanager
def _progress(*, enabled: bool, verb: str) -> Iterator[Any]:
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda summary, pending=0: None
        return
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                   console=console, transient=True)
    task = bar.add_task("reading")

    def tick(summary: PublishSummary, pending: int = 0) -> None:
        bar.update(task, description=f"{summary.published + pending} {verb} · "
                                     f"{len(summary.rejected)} rejected")

    with bar:
        yield tick

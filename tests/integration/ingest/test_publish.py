"""The publisher against the real local Kafka: what goes in comes back, keyed by stable ids."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

from pipeline.core.kafka_client import client_kwargs
from pipeline.core.settings import Settings
from pipeline.ingest.ids import article_id
from pipeline.ingest.inputs import Parsed, read_path
from pipeline.ingest.publish import KafkaUnavailable, encode, publish
from pipeline.ingest.validate import parse_raw
from schemas import RawArticle
from tests.support import DATA, ROOT

DEMO_SAMPLES = ROOT / "deploy" / "demo" / "samples"


@pytest.fixture
def topic_settings(stack: object, settings: Settings) -> Iterator[Settings]:
    """Settings whose raw topic is a fresh two-partition topic, deleted afterwards."""
    settings = settings.replaced(topics={"raw": f"test.publish.{uuid.uuid4().hex[:12]}"})
    admin = KafkaAdminClient(**client_kwargs(settings))
    try:
        admin.create_topics([NewTopic(settings.topics.raw, num_partitions=2, replication_factor=1)])
        yield settings
    finally:
        try:
            admin.delete_topics([settings.topics.raw])
        finally:
            admin.close()


@pytest.fixture
def mixed_dir(tmp_path: Path) -> Path:
    """The demo samples plus one nested broken file: every format, one rejection."""
    for sample in DEMO_SAMPLES.iterdir():
        (tmp_path / sample.name).write_bytes(sample.read_bytes())
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "broken.json").write_text('{"body": ')
    (tmp_path / "more" / "extra.jsonl").write_text(json.dumps(
        {"body": "Se registraron 40 cruces en la frontera norte.", "category": "border"}) + "\n")
    return tmp_path


def _consume(settings: Settings, expected: int, *,
             timeout: float = 60.0) -> list[tuple[str, bytes]]:
    """Every message on the topic, from the beginning, once ``expected`` have arrived."""
    consumer = KafkaConsumer(**client_kwargs(settings), group_id=None,
                             enable_auto_commit=False, consumer_timeout_ms=1000)
    try:
        partitions = [TopicPartition(settings.topics.raw, p)
                      for p in sorted(consumer.partitions_for_topic(settings.topics.raw) or [])]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        messages: list[tuple[str, bytes]] = []
        deadline = time.monotonic() + timeout
        while len(messages) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                messages.extend((m.key.decode(), m.value) for m in batch)
        return messages
    finally:
        consumer.close()


@pytest.mark.stack
def test_publish_directory_round_trip_and_republish_is_idempotent(
    topic_settings: Settings, mixed_dir: Path,
) -> None:
    expected_ids = {article_id(i.article) for i in read_path(mixed_dir) if isinstance(i, Parsed)}
    assert len(expected_ids) >= 9

    summary = publish([mixed_dir], settings=topic_settings)
    assert summary.published == len(expected_ids)
    [(origin, reason)] = summary.rejected
    assert origin.endswith("broken.json") and "not valid JSON" in reason

    messages = _consume(topic_settings, len(expected_ids))
    assert len(messages) == len(expected_ids)
    assert {key for key, _ in messages} == expected_ids
    for key, value in messages:
        article = RawArticle.model_validate_json(value)
        assert article.id == key
        assert None not in json.loads(value).values()  # exclude_none on the wire
    by_id = {key: RawArticle.model_validate_json(value) for key, value in messages}
    spanish = [a for a in by_id.values() if a.metadata.get("category") == "border"]
    assert spanish and spanish[0].body.startswith("Se registraron")

    again = publish([mixed_dir], settings=topic_settings)
    assert again.published == len(expected_ids)
    messages = _consume(topic_settings, 2 * len(expected_ids))
    assert Counter(key for key, _ in messages) == Counter({k: 2 for k in expected_ids})


@pytest.mark.stack
def test_hostile_corpus_published_record_by_record(topic_settings: Settings) -> None:
    """Every record of the hostile corpus is on the topic or in the rejections, none twice
    and none lost; what is on the topic is what the reader produced."""
    hostile = DATA / "hostile"
    items = list(read_path(hostile))
    wanted = Counter(encode(i.article) for i in items if isinstance(i, Parsed))
    refused = [(i.origin, i.reason) for i in items if not isinstance(i, Parsed)]
    summary = publish([hostile], settings=topic_settings)
    assert summary.rejected == refused
    assert summary.published == sum(wanted.values())
    messages = _consume(topic_settings, summary.published)
    assert Counter((k.encode(), v) for k, v in messages) == wanted
    for _, value in messages:
        assert parse_raw(value, max_bytes=topic_settings.kafka.max_message_bytes)


@pytest.mark.stack
def test_cli_publishes_stdin_and_exits_non_zero_on_rejections(topic_settings: Settings) -> None:
    env = {**os.environ, "NEWSFLOW_TOPIC_RAW": topic_settings.topics.raw,
           "NEWSFLOW_KAFKA_BOOTSTRAP": topic_settings.kafka.bootstrap}
    lines = [json.dumps({"id": "cli-1", "body": "Deportation flight landed at noon."}),
             json.dumps({"id": "cli-2", "title": "no body"})]
    result = _cli(["publish", "-"], env=env, stdin="\n".join(lines) + "\n")
    assert result.returncode == 1, result.stderr
    assert "1 published" in result.stdout and "1 rejected" in result.stdout
    assert "<stdin>:2" in result.stderr and "body" in result.stderr
    [(key, value)] = _consume(topic_settings, 1)
    assert key == "cli-1"
    assert RawArticle.model_validate_json(value).body == "Deportation flight landed at noon."


@pytest.mark.stack
def test_a_send_kafka_refuses_is_reported_not_lost(topic_settings: Settings,
                                                   tmp_path: Path) -> None:
    # Valid as an article (under 1M characters) but ~2 MB as UTF-8: over a 1 MiB limit.
    (tmp_path / "huge.json").write_text(json.dumps({"id": "huge", "body": "ñ" * 999_000}))
    (tmp_path / "small.json").write_text(json.dumps({"id": "small", "body": "Short note."}))
    limited = topic_settings.replaced(kafka={"max_message_bytes": 1024 * 1024})
    summary = publish([tmp_path], settings=limited)
    assert summary.published == 1
    [(origin, reason)] = summary.rejected
    assert origin.endswith("huge.json") and "MessageSizeTooLarge" in reason
    assert [key for key, _ in _consume(topic_settings, 1)] == ["small"]


def test_unreachable_kafka_is_one_clear_error(tmp_path: Path) -> None:
    port = _free_port()
    (tmp_path / "a.json").write_text(json.dumps({"body": "Migrants crossed at dawn."}))
    with pytest.raises(KafkaUnavailable, match=f"127.0.0.1:{port}"):
        publish([tmp_path], settings=Settings().replaced(kafka={"bootstrap": f"127.0.0.1:{port}"}),
                connect_timeout=2.0)
    result = _cli(["publish", str(tmp_path)],
                  env={**os.environ, "NEWSFLOW_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}"})
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "newsflow stack up" in line


def test_dry_run_needs_no_kafka(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        json.dumps({"body": "One."}) + "\n" + json.dumps({"body": ""}) + "\n")
    result = _cli(["publish", "--dry-run", str(tmp_path)],
                  env={**os.environ, "NEWSFLOW_KAFKA_BOOTSTRAP": f"127.0.0.1:{_free_port()}"})
    assert result.returncode == 1
    assert "1 valid" in result.stdout and "1 rejected" in result.stdout
    assert "a.jsonl:2" in result.stderr


def _cli(args: list[str], *, env: dict[str, str], stdin: str | None = None,
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from agents.cli import main; main()", *args],
        input=stdin, env=env, capture_output=True, text=True, timeout=120,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

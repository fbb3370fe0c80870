"""What the test suites share: paths, an isolated namespace on the real stack with real
workers, and a loopback webhook receiver.

A ``Namespace`` gives a test its own topics, indices and consumer group (a random prefix),
so tests can run against a stack that also serves the demo, and leave nothing behind.
"""


from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient

from pipeline.core.es_client import es_client
from pipeline.core.kafka_client import client_kwargs
from pipeline.core.settings import Settings
from pipeline.operations.offsets import admin_client, consumed_topics, group_offsets

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
# An article written for the tests: a minister, towns the small model mislabels, a protest.
SAMPLE_ARTICLE = DATA / "border_report.txt"
# The product's migration-topic taxonomy: the ids users filter and alert on (a contract).
TAG_IDS = frozenset({
    "border_crossing", "asylum_refugees", "deportation_expulsion", "detention",
    "smuggling_trafficking", "migrant_deaths_missing", "anti_immigrant_protest_xenophobia",
    "humanitarian_conditions_camps", "migration_policy_law", "labour_migration_remittances",
    "integration_citizenship", "internal_displacement", "climate_migration",
    "migration_diplomacy_cooperation", "return_reintegration",
})


class Namespace:
    """Settings, environment and clients for one isolated pipeline."""

    def __init__(self, prefix: str, tmp: Path) -> None:
        topics = {name: f"{prefix}.{name.replace('_', '-')}"
                  for name in ("raw", "enriched", "deadletter", "alert_rules", "alerts", "dedup",
                                 "feeds")}
        indices = {name: f"{prefix}-{name.replace('_', '-')}"
                   for name in ("articles", "alerts", "alert_rules")}
        self.settings = Settings(secrets_key_file=tmp / "secrets.key").replaced(
            topics={**topics, "partitions": 4}, index=indices,
            kafka={"consumer_group": prefix},
            metrics={"port": 0},  # several workers on one host: each picks a free port
            state={"dir": tmp / "state"},
        )
        self.env = {
            **os.environ,
            **{f"NEWSFLOW_TOPIC_{k.upper()}": v for k, v in topics.items()},
            **{f"NEWSFLOW_INDEX_{k.upper()}": v for k, v in indices.items()},
            "NEWSFLOW_TOPIC_PARTITIONS": "4",
            "NEWSFLOW_CONSUMER_GROUP": prefix,
            "NEWSFLOW_METRICS_PORT": "0",
            "NEWSFLOW_SECRETS_KEY_FILE": str(tmp / "secrets.key"),  # CLI, API, workers share it
            "NEWSFLOW_STATE_DIR": str(tmp / "state"),  # the workers' tables on disk
        }
        self.tmp = tmp
        self.es: Elasticsearch = es_client(self.settings)
        self._workers: list[subprocess.Popen] = []

    # --- Kafka ---------------------------------------------------------------------------
    def produce(self, messages: list[tuple[bytes | None, bytes | None]]) -> None:
        producer = KafkaProducer(
            **client_kwargs(self.settings), acks="all",
            max_request_size=self.settings.kafka.max_message_bytes,
        )
        futures = [producer.send(self.settings.topics.raw, key=k, value=v) for k, v in messages]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
        producer.close()

    def consume(self, topic: str, *, expect: int, timeout: float = 60) -> list:
        consumer = KafkaConsumer(
            topic, **client_kwargs(self.settings), auto_offset_reset="earliest",
            enable_auto_commit=False, consumer_timeout_ms=1000,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=64 * 1024 * 1024,
        )
        records: list = []
        deadline = time.monotonic() + timeout
        while len(records) < expect and time.monotonic() < deadline:
            records.extend(consumer)
        consumer.close()
        return records

    def wait_until_processed(self, *, timeout: float = 120) -> None:
        """Until the worker group has committed every message of its topics (lag 0 on each
        partition): after that fact, nothing already produced can still cause an effect."""
        admin = admin_client(self.settings)
        try:
            deadline = time.monotonic() + timeout
            while True:
                rows = group_offsets(admin, self.settings.kafka.consumer_group,
                                     consumed_topics(self.settings))
                behind = [r for r in rows if r.lag]
                if not behind:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(f"still behind after {timeout:.0f}s: {behind}\n"
                                         f"{self.logs()}")
                time.sleep(0.2)
        finally:
            admin.close()

    def log_lines(self, text: str) -> int:
        """How many lines of the workers' logs contain ``text``."""
        return sum(line.count(text) for p in self.tmp.glob("worker-*.log")
                   for line in p.read_text().splitlines())

    # --- Elasticsearch -------------------------------------------------------------------
    def count(self) -> int:
        self.es.indices.refresh(index=self.settings.index.articles)
        return int(self.es.count(index=self.settings.index.articles)["count"])

    def wait_for_count(self, n: int, *, timeout: float = 180) -> int:
        deadline = time.monotonic() + timeout
        seen = self.count()
        while seen < n and time.monotonic() < deadline:
            time.sleep(0.5)
            seen = self.count()
        return seen

    def ids(self) -> list[str]:
        self.es.indices.refresh(index=self.settings.index.articles)
        hits = self.es.search(index=self.settings.index.articles, size=10_000,
                              source=False, query={"match_all": {}})["hits"]["hits"]
        return [hit["_id"] for hit in hits]

    # --- workers -------------------------------------------------------------------------
    def group(self) -> dict:
        """The consumer group as Kafka describes it (state, members, their assignments)."""
        admin = KafkaAdminClient(**client_kwargs(self.settings))
        try:
            return admin.describe_groups([self.settings.kafka.consumer_group]).get(  # type: ignore[no-any-return]
                self.settings.kafka.consumer_group, {})
        finally:
            admin.close()

    def wait_for_group(self, members: int, *, timeout: float = 240) -> None:
        """Until the group is stable with ``members`` workers; AssertionError if it never is."""
        deadline = time.monotonic() + timeout
        group = self.group()
        while not (group.get("group_state") == "Stable"
                   and len(group.get("members") or []) == members):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"group never settled with {members} workers: {group}\n{self.logs()}")
            time.sleep(0.5)
            group = self.group()

    def start_worker(self, env: dict[str, str] | None = None) -> subprocess.Popen:
        log = (self.tmp / f"worker-{len(self._workers)}.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "agents.cli", "worker", "--loglevel", "info"],
            env={**self.env, **(env or {})}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._workers.append(proc)
        return proc

    def kill_worker(self, proc: subprocess.Popen) -> None:
        """SIGKILL the worker and its NER child: no shutdown, no commit."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for proc in self._workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self._workers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def logs(self) -> str:
        return "\n".join(p.read_text()[-4000:] for p in sorted(self.tmp.glob("worker-*.log")))

    def cleanup(self) -> None:
        self.stop_all()
        s = self.settings
        for alias in (s.index.articles, s.index.alerts, s.index.alert_rules):
            for index in self.es.options(ignore_status=404).indices.get_alias(name=alias):
                if index.startswith(alias):
                    self.es.indices.delete(index=index)
        for name in (s.index.articles, s.index.alerts, s.index.alert_rules):
            self.es.options(ignore_status=404).indices.delete_index_template(name=name)
        admin = KafkaAdminClient(**client_kwargs(s))
        mine = [t for t in admin.list_topics() if t.startswith(s.kafka.consumer_group)]
        if mine:
            admin.delete_topics(mine)
        admin.close()
        shutil.rmtree(s.state_dir, ignore_errors=True)


def article_json(i: int, **fields: object) -> bytes:
    """A short synthetic article: quick to enrich, with entities to find."""
    cities = ["Iquique", "Tijuana", "Lampedusa", "Calais", "Tapachula", "Ceuta"]
    body = (
        f"Report {i}: about {i % 90 + 10} migrants crossed the border near "
        f"{cities[i % len(cities)]} on Monday, police said. Aid groups asked for shelter."
    )
    return json.dumps({"id": f"art-{i:05d}", "body": body, "source": "newsflow-tests",
                       "published_at": "2024-03-01T12:00:00Z", **fields}).encode()



class _Loopback:
    """An HTTP server on 127.0.0.1 and a free port, served from a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@dataclass(frozen=True)
class Received:
    key: str
    headers: dict[str, str]
    body: bytes

    @property
    def signature(self) -> str | None:
        """The Standard Webhooks ``webhook-signature`` header (``v1,…``), if any."""
        return self.headers.get("webhook-signature")

    @property
    def alerts(self) -> list[dict]:
        return json.loads(self.body)["alerts"]


class Receiver:
    """HTTP server on a random loopback port; answers ``status`` after ``delay`` s
    (``status`` may be changed while it runs: a receiver that comes back).  ``script``:
    the first requests' ``(status, delay)`` answers, one each, before the defaults;
    ``reply``: the body answered with a status."""

    def __init__(self, *, delay: float = 0.0, status: int = 200,
                 script: Sequence[tuple[int, float]] = (), path: str = "/hook",
                 reply: Callable[[int], bytes] = lambda status: b"{}") -> None:
        self.status = status
        self.requests: list[Received] = []
        self._script = list(script)
        self._path = path
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # the sender died mid-request (a killed worker): nothing arrived
                with receiver._lock:
                    receiver.requests.append(Received(
                        self.headers.get("Idempotency-Key", ""),
                        {k.lower(): v for k, v in self.headers.items()}, body))
                    status, wait = (receiver._script.pop(0) if receiver._script
                                    else (receiver.status, delay))
                time.sleep(wait)
                answer = reply(status)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the client gave up waiting, or the worker was killed meanwhile

            def log_message(self, *args: object) -> None:
                pass

        self._http = _Loopback(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.port}{self._path}"

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    def wait_for(self, done: Callable[[list[Received]], bool], *, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done(self.snapshot()):
                return True
            time.sleep(0.1)
        return done(self.snapshot())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def span(text: str, mention: str, label: str, nth: int = 0) -> tuple[int, int, str]:
    """The ``nth`` occurrence of ``mention`` in ``text`` as an NER span ``(start, end,
    label)``: spans given by hand, as a model might give them, test one entity rule alone."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(mention, start + 1)
    return start, start + len(mention), label


def settings_with(base: Settings | None = None, **fields: Any) -> Settings:
    """Settings with some fields changed, named ``section__field`` (``webhook__max_attempts=2``)
    or, for the top level, by name (``home=tmp_path``)."""
    sections: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for key, value in fields.items():
        section, _, name = key.partition("__")
        if name:
            sections.setdefault(section, {})[name] = value
        else:
            top[key] = value
    settings = base or Settings(**top)
    return settings.replaced(**sections) if sections else settings


def offline_settings(home: Path, **fields: Any) -> Settings:
    """``settings_with`` for code that must not reach a service: Kafka and Elasticsearch
    point at a closed loopback port and the home (key files, caches) is ``home``."""
    closed = "127.0.0.1:1"
    return settings_with(**{"home": home, "kafka__bootstrap": closed,
                            "es__url": f"http://{closed}", "es__password": "unused", **fields})


@dataclass
class Route:
    """What a ``FeedServer`` path answers; change ``body`` to change the feed."""

    body: bytes
    content_type: str = "application/rss+xml"
    status: int = 200
    delay: float = 0.0
    validators: bool = True  # send ETag and Last-Modified, answer 304 when they match
    location: str | None = None  # a redirect's target (with a 3xx status)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


class FeedServer:
    """Loopback HTTP server for feeds and article pages, recording every request."""

    LAST_MODIFIED = "Mon, 05 Jan 2026 10:00:00 GMT"

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                with server._lock:
                    server.requests.append((self.path, dict(self.headers)))
                    route = server.routes.get(self.path)
                if route is None:
                    self._answer(404, {}, b"not found")
                    return
                time.sleep(route.delay)
                headers = {"Content-Type": route.content_type}
                if route.location is not None:
                    headers["Location"] = route.location
                if route.validators and route.status == 200:
                    headers |= {"ETag": route.etag, "Last-Modified": server.LAST_MODIFIED}
                    if self.headers.get("If-None-Match") == route.etag:
                        self._answer(304, headers, b"")
                        return
                self._answer(route.status, headers, route.body)

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout)

            def log_message(self, *args: object) -> None:
                pass

        self._http = _Loopback(Handler)

    def url(self, path: str, *, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self._http.port}{path}"

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for p, _ in self.requests if p == path)

    def requests_to(self, path: str) -> list[dict[str, str]]:
        with self._lock:
            return [headers for p, headers in self.requests if p == path]

    def close(self) -> None:
        self._http.close()


def rss(title: str, items: list[tuple[str, str, str | None]]) -> bytes:
    """An RSS 2.0 feed of ``(guid/link, title, description or None)`` items."""
    entries = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        + (f"<description>{d}</description>" if d else "") + "</item>"
        for link, t, d in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title>{entries}</channel></rss>").encode()

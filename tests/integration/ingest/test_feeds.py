"""The feed follower against the real Kafka and a loopback HTTP server.

Four feeds: one that changes between polls, one that answers 304 once it has been read,
one that fails, one that is slow (but within the timeout).  Each new entry of the
changing feed must reach the raw topic exactly once: across a restart, while a second
follower joins, and after the first leaves.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient

from pipeline.core.kafka_client import client_kwargs
from pipeline.ingest.ids import article_id
from pipeline.operations.status import collect
from schemas import RawArticle
from tests.support import ROOT, FeedServer, Namespace, Route, rss

pytestmark = pytest.mark.stack

EXTRA_ENV = {
    "NEWSFLOW_FEEDS_TIMEOUT_SECONDS": "5",
    "NEWSFLOW_FEEDS_HOST_DELAY_SECONDS": "0.2",
    "NEWSFLOW_FEEDS_BACKOFF_MAX_SECONDS": "2",
}


def _link(n: int) -> str:
    return f"https://changing.example.org/news/{n}"


def _id(url: str) -> str:
    return article_id(RawArticle(url=url, body="x"))  # type: ignore[arg-type]


class Followers:
    """``newsflow feeds run`` processes of one namespace."""

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.env = {**ns.env, **EXTRA_ENV}
        self.procs: list[subprocess.Popen] = []

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "agents.cli", *args], env=self.env,
                              cwd=ROOT, capture_output=True, text=True, timeout=120,
                              check=False)

    def start(self) -> subprocess.Popen:
        log = (self.ns.tmp / f"follower-{len(self.procs)}.log").open("w")
        proc = subprocess.Popen([sys.executable, "-m", "agents.cli", "feeds", "run"],
                                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, self.logs()

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)

    def logs(self) -> str:
        return "\n".join(p.read_text()[-3000:] for p in sorted(self.ns.tmp.glob("follower-*")))

    def members(self) -> int:
        admin = KafkaAdminClient(**client_kwargs(self.ns.settings))
        try:
            group = admin.describe_groups([self.ns.settings.feeds_group]).get(
                self.ns.settings.feeds_group, {})
        finally:
            admin.close()
        if group.get("group_state") != "Stable":
            return -1
        return len(group.get("members") or [])

    def metrics(self, index: int) -> str:
        log = (self.ns.tmp / f"follower-{index}.log").read_text()
        port = re.search(r"serving /metrics on [\d.]+:(\d+)", log)
        assert port, log
        with urllib.request.urlopen(f"http://127.0.0.1:{port.group(1)}/metrics") as response:
            return response.read().decode()


def _wait(fact: Callable[[], bool], what: str, followers: Followers, *,
          timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not fact():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}\n{followers.logs()}")
        time.sleep(0.3)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def followers(namespace: Namespace) -> Iterator[Followers]:
    followers = Followers(namespace)
    yield followers
    followers.stop_all()


def test_each_new_entry_is_published_once_across_restarts_and_two_followers(
    namespace: Namespace, server: FeedServer, followers: Followers, tmp_path: Path,
) -> None:
    published: list[int] = [1, 2]

    def changing() -> bytes:
        return rss("Changing", [(_link(n), f"Entry {n}", f"Migrants crossed, report {n}.")
                                for n in reversed(published)])

    server.routes["/changing.xml"] = Route(changing())
    server.routes["/static.xml"] = Route(rss("Static", [
        ("https://static.example.org/1", "Static one", "Nothing changes here.")]))
    server.routes["/failing.xml"] = Route(b"broken", status=500)
    server.routes["/slow.json"] = Route(json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "Slow",
        "items": [{"id": "s1", "url": "https://slow.example.org/1",
                   "content_text": "A slow feed's only entry."}]}).encode(),
        content_type="application/feed+json", delay=1.5)
    opml = tmp_path / "feeds.opml"
    opml.write_text(f'<opml version="2.0"><body><outline text="Slow" '
                    f'xmlUrl="{server.url("/slow.json", host="localhost")}"/></body></opml>')

    added = followers.cli("feeds", "add", server.url("/changing.xml"),
                          server.url("/static.xml"), server.url("/failing.xml"),
                          "--every", "1s")
    assert added.returncode == 0, added.stderr
    imported = followers.cli("feeds", "import", str(opml), "--every", "1s")
    assert imported.returncode == 0, imported.stderr

    def keys() -> Counter[str]:
        records = namespace.consume(namespace.settings.topics.raw, expect=10 ** 6, timeout=2)
        return Counter(r.key.decode() for r in records)

    def has(*urls: str) -> Callable[[], bool]:
        return lambda: {_id(u) for u in urls} <= set(keys())

    first = followers.start()
    _wait(has(_link(1), _link(2), "https://static.example.org/1", "https://slow.example.org/1"),
          "the first entries of every good feed are published", followers)

    # The static feed is asked with its validators and answers 304.
    _wait(lambda: any(h.get("If-None-Match") for h in server.requests_to("/static.xml")),
          "a conditional GET of the static feed", followers)

    published.append(3)
    server.routes["/changing.xml"].body = changing()
    _wait(has(_link(3)), "entry 3 published", followers)

    # Adding a followed feed again keeps its options and its state (nothing republished).
    again = followers.cli("feeds", "add", server.url("/changing.xml"))
    assert again.returncode == 0 and "updated" in again.stdout, again.stderr

    # Restart: a new entry appears while no follower runs.
    followers.stop(first)
    published.append(4)
    server.routes["/changing.xml"].body = changing()
    second = followers.start()
    _wait(has(_link(4)), "entry 4 published after the restart", followers)

    # A second follower joins: the feeds are split between the two.
    followers.start()
    _wait(lambda: followers.members() == 2, "two followers in the group", followers)
    published.append(5)
    server.routes["/changing.xml"].body = changing()
    _wait(has(_link(5)), "entry 5 published with two followers", followers)

    # The first leaves: the other takes its feeds over.
    followers.stop(second)
    _wait(lambda: followers.members() == 1, "one follower left", followers)
    published.append(6)
    server.routes["/changing.xml"].body = changing()
    _wait(has(_link(6)), "entry 6 published after a follower left", followers)

    # Let the remaining follower poll the changing feed a few more times, then count.
    polls = server.count("/changing.xml")
    _wait(lambda: server.count("/changing.xml") >= polls + 3, "three more polls", followers)
    counts = keys()
    expected = {_id(_link(n)) for n in published} | {
        _id("https://static.example.org/1"), _id("https://slow.example.org/1")}
    assert set(counts) == expected
    assert all(n == 1 for n in counts.values()), counts

    # Health: in `newsflow status`, in `feeds list`, and in the follower's metrics.
    report = collect(namespace.settings, sample=10)
    assert report.feeds is not None and report.feeds.count == 4
    by_url = {row.url: row for row in report.feeds.feeds}
    failing = by_url[server.url("/failing.xml")]
    assert failing.health == "failing" and failing.failures >= 1
    assert failing.error == "HTTP 500 Internal Server Error"
    assert by_url[server.url("/static.xml")].last_status == 304
    assert by_url[server.url("/changing.xml")].published == len(published)
    listed = followers.cli("feeds", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {row["health"] for row in json.loads(listed.stdout)} == {"ok", "failing"}
    metrics = followers.metrics(2)
    assert re.search(r'newsflow_feed_polls_total\{outcome="error"\} [1-9]', metrics)
    assert "newsflow_feed_consecutive_failures" in metrics

    removed = followers.cli("feeds", "remove", server.url("/failing.xml"))
    assert removed.returncode == 0, removed.stderr
    listed = json.loads(followers.cli("feeds", "list", "--json").stdout)
    assert server.url("/failing.xml") not in {row["url"] for row in listed}


def test_cli_errors_are_one_line(namespace: Namespace, followers: Followers,
                                 tmp_path: Path) -> None:
    bad = followers.cli("feeds", "add", "ftp://example.org/feed")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "not an http(s) URL" in bad.stderr
    every = followers.cli("feeds", "add", "https://example.org/feed", "--every", "soon")
    assert every.returncode == 2 and "--every" in every.stderr
    missing = followers.cli("feeds", "remove", "https://never.example.org/rss")
    assert missing.returncode == 1 and "not followed" in missing.stderr
    opml = tmp_path / "list.opml"
    opml.write_text("<html></html>")
    imported = followers.cli("feeds", "import", str(opml))
    assert imported.returncode == 1 and "not OPML" in imported.stderr

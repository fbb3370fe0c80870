"""`make demo`: the main job end to end on the local stack, in a few minutes.

Starts the stack, runs setup, starts one worker (left running so you can publish more),
publishes the sample articles, waits until every one is searchable and searches them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TextIO

from pipeline.core.es_client import es_client
from pipeline.core.settings import get_settings
from pipeline.ingest.ids import article_id
from pipeline.ingest.inputs import Parsed, read_sources

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SAMPLES = [ROOT / "deploy" / "demo" / "samples"]
SHARED_SAMPLE = ROOT.parent / "shared" / "samples" / "chile-bolivia-border.txt"
WAIT_SECONDS = 300


def _say(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


def _run(*args: str) -> None:
    subprocess.run([str(BIN / "newsflow"), *args], check=True)


def _start_worker(log_path: Path) -> int:
    pid_file = log_path.with_suffix(".pid")
    if pid_file.exists():
        old = int(pid_file.read_text())
        try:
            os.kill(old, 0)
            print(f"worker already running (pid {old})")
            return old
        except ProcessLookupError:
            pass
    proc = subprocess.Popen(
        [str(BIN / "newsflow"), "worker"], stdout=log_path.open("a"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    pid_file.write_text(str(proc.pid))
    print(f"worker pid {proc.pid}, log {log_path}")
    return proc.pid


class Progress:
    """A progress line: redrawn in place on a terminal; in a file or CI log, one line per
    change of the figure (a carriage return there only piles up copies on one line)."""

    def __init__(self, stream: TextIO = sys.stdout) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._last: str | None = None

    def show(self, text: str) -> None:
        if self._tty:
            self._stream.write(f"\r{text}")
        elif text != self._last:
            self._stream.write(f"{text}\n")
        self._stream.flush()
        self._last = text

    def done(self) -> None:
        if self._tty and self._last is not None:
            self._stream.write("\n")
            self._stream.flush()


def _wait_searchable(ids: set[str]) -> None:
    settings = get_settings()
    es = es_client(settings)
    deadline = time.monotonic() + WAIT_SECONDS
    found = 0
    progress = Progress()
    while time.monotonic() < deadline:
        es.indices.refresh(index=settings.index.articles)
        found = es.count(index=settings.index.articles,
                         query={"ids": {"values": list(ids)}})["count"]
        progress.show(f"{found}/{len(ids)} articles searchable")
        if found == len(ids):
            progress.done()
            return
        time.sleep(1)
    progress.done()
    sys.exit(f"error: only {found}/{len(ids)} articles became searchable in {WAIT_SECONDS}s; "
             "see the worker log")


def main() -> None:
    settings = get_settings()
    _say("Starting the local stack (Kafka + Elasticsearch; the first run downloads them)")
    _run("stack", "up")
    _say("Creating topics and index templates")
    _run("setup")
    _say("Starting a worker")
    pid = _start_worker(settings.home / "demo-worker.log")

    sources = SAMPLES + ([SHARED_SAMPLE] if SHARED_SAMPLE.exists() else [])
    ids = {article_id(item.article) for item in read_sources(sources) if isinstance(item, Parsed)}
    _say(f"Publishing {len(ids)} sample articles to {settings.topics.raw}")
    _run("publish", *map(str, sources))
    _say("Waiting until they are searchable")
    _wait_searchable(ids)

    _say("newsflow search migrants")
    _run("search", "migrants", "--size", "5")

    _say("Done. Next:")
    print(f"""  publish your own:   .venv/bin/newsflow publish FILE_OR_DIR ...   (JSON, JSONL, text, HTML, RSS)
  search:             .venv/bin/newsflow search 'migra* AND places:Iquique' --collapse
  Elasticsearch:      {settings.es.url}  (user {settings.es.user}, password in {settings.stack_dir / 'elastic.password'})
  the worker:         pid {pid}, log {settings.home / 'demo-worker.log'}; stop it with: kill {pid}
  the stack:          .venv/bin/newsflow stack status | down""")


if __name__ == "__main__":
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    main()

"""``newsflow alerts …`` against the real Kafka and Elasticsearch, in an isolated namespace.

Commands run in-process through typer's runner with the namespace's ``NEWSFLOW_*``
variables (settings are re-read for each command); one test runs the real console
script to check the exit code and the one-line error a shell sees.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import NotFoundError
from typer.testing import CliRunner, Result

from agents.cli import app
from pipeline.alerts.store import load_rules
from pipeline.core.settings import get_settings
from pipeline.index.writer import index_documents
from schemas.articles import EnrichedArticle
from tests.support import ROOT

pytestmark = pytest.mark.stack

SECRET = "cli-integration-webhook-secret-9d2c44"  # ≥ 32 bytes
SLACK = "https://hooks.slack.com/services/T0/B0/slack-credential-7e"
Run = Callable[..., Result]


@pytest.fixture
def cli(namespace) -> Run:  # type: ignore[no-untyped-def]
    overrides = {k: v for k, v in namespace.env.items() if k.startswith("NEWSFLOW_")}
    overrides["NEWSFLOW_TESTS_SECRET"] = SECRET
    runner = CliRunner()

    def run(*args: str) -> Result:
        get_settings.cache_clear()
        try:
            return runner.invoke(app, list(args), env=overrides)
        finally:
            get_settings.cache_clear()

    return run


_ADD = [
    "alerts", "add",
    "--name", "Detentions in Tapachula",
    "--query", "Tapachula AND (detained OR detenidos)",
    "--webhook", "https://hooks.example.org/newsflow",
    "--secret-env", "NEWSFLOW_TESTS_SECRET",
    "--slack", SLACK,
    "--email", "desk@example.org",
    "--email", "night@example.org",
    "--mode", "hourly",
    "--throttle", "600",
]  # fmt: skip


def test_rule_lifecycle_from_the_command_line(cli: Run, namespace) -> None:  # type: ignore[no-untyped-def]
    added = cli(*_ADD)
    assert added.exit_code == 0, added.output
    assert added.stdout.strip() == "added rule detentions-in-tapachula"

    listed = cli("alerts", "list")
    assert listed.exit_code == 0, listed.output
    assert "detentions-in-tapachula" in listed.stdout
    assert "hourly" in listed.stdout

    as_json = json.loads(cli("alerts", "list", "--json").stdout)
    assert [r["id"] for r in as_json] == ["detentions-in-tapachula"]
    (rule,) = as_json
    assert rule["enabled"] is True
    assert rule["throttle_seconds"] == 600
    assert rule["channels"][0] == {
        "kind": "webhook", "url": "https://hooks.example.org/newsflow", "secrets": ["**********"],
    }  # fmt: skip
    assert rule["channels"][1]["url"] == "https://hooks.slack.com/***"
    assert rule["channels"][2]["to"] == ["desk@example.org", "night@example.org"]

    shown = cli("alerts", "show", "detentions-in-tapachula")
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["query"] == "Tapachula AND (detained OR detenidos)"

    # The secret reached the topic (workers sign with it) but no output and not the mirror.
    stored = load_rules(namespace.settings)["detentions-in-tapachula"]
    assert stored.channels[0].secrets[0].get_secret_value() == SECRET  # type: ignore[union-attr]
    assert str(stored.channels[1].url) == SLACK  # type: ignore[union-attr]
    mirror = namespace.es.get(
        index=namespace.settings.index.alert_rules, id="detentions-in-tapachula"
    )["_source"]
    assert mirror["throttle_seconds"] == 600
    for text in (added.output, listed.output, shown.output, json.dumps(as_json), str(mirror)):
        assert SECRET not in text and "slack-credential" not in text

    # Adding again by id updates and keeps created_at.
    again = cli(*_ADD[:-2], "--throttle", "60", "--id", "detentions-in-tapachula")
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == "updated rule detentions-in-tapachula"
    updated = json.loads(cli("alerts", "show", "detentions-in-tapachula").stdout)
    assert updated["throttle_seconds"] == 60
    assert updated["created_at"] == rule["created_at"]
    assert updated["updated_at"] > rule["updated_at"]

    assert cli("alerts", "disable", "detentions-in-tapachula").exit_code == 0
    assert json.loads(cli("alerts", "list", "--json").stdout)[0]["enabled"] is False
    assert load_rules(namespace.settings)["detentions-in-tapachula"].enabled is False
    assert cli("alerts", "enable", "detentions-in-tapachula").exit_code == 0
    assert load_rules(namespace.settings)["detentions-in-tapachula"].enabled is True

    deleted = cli("alerts", "delete", "detentions-in-tapachula")
    assert deleted.exit_code == 0, deleted.output
    assert load_rules(namespace.settings) == {}
    with pytest.raises(NotFoundError):
        namespace.es.get(index=namespace.settings.index.alert_rules, id="detentions-in-tapachula")
    assert json.loads(cli("alerts", "list", "--json").stdout) == []

    missing = cli("alerts", "show", "detentions-in-tapachula")
    assert missing.exit_code == 1
    assert "no rule 'detentions-in-tapachula'" in missing.stderr
    assert cli("alerts", "delete", "detentions-in-tapachula").exit_code == 1
    assert cli("alerts", "disable", "detentions-in-tapachula").exit_code == 1


def test_invalid_input_is_one_line_and_exit_2(cli: Run, namespace) -> None:  # type: ignore[no-untyped-def]
    bad_query = cli("alerts", "add", "--name", "Ceuta", "--query", "Ceuta AND (valla")
    assert bad_query.exit_code == 2
    assert bad_query.stderr.count("\n") == 1
    assert "position 16" in bad_query.stderr

    bad_email = cli("alerts", "add", "--name", "Ceuta", "--query", "Ceuta", "--email", "nobody")
    assert bad_email.exit_code == 2
    assert bad_email.stderr.count("\n") == 1
    assert "email" in bad_email.stderr

    bad_mode = cli("alerts", "add", "--name", "Ceuta", "--query", "Ceuta", "--mode", "weekly")
    assert bad_mode.exit_code == 2
    secret_alone = cli("alerts", "add", "--name", "Ceuta", "--query", "Ceuta",
                       "--secret-env", "NEWSFLOW_TESTS_SECRET")
    assert secret_alone.exit_code == 2 and "--webhook" in secret_alone.stderr

    assert load_rules(namespace.settings) == {}


def test_console_script_refuses_a_bad_rule_with_its_position() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agents.cli", "alerts", "add", "--name", "Calais",
         "--query", "Calais OR boat~"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: invalid query: position ")


@pytest.mark.parametrize("language", ["lucene", "kql"])
def test_console_script_refuses_deep_nesting_without_a_traceback(language: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agents.cli", "alerts", "add", "--name", "Deep",
         "--language", language, "--query", "(" * 1990 + "Calais" + ")" * 1990],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: invalid query: position 20: parentheses nested too deeply (at most 20 levels)"
    ]


def test_kql_rules_are_stored_with_their_language(cli: Run, namespace) -> None:  # type: ignore[no-untyped-def]
    added = cli("alerts", "add", "--name", "Ceuta fence", "--language", "kql",
                "--query", "Ceuta and not (fence or valla)")  # fmt: skip
    assert added.exit_code == 0, added.output
    shown = json.loads(cli("alerts", "show", "ceuta-fence").stdout)
    assert (shown["language"], shown["query"]) == ("kql", "Ceuta and not (fence or valla)")
    assert shown["disabled_reason"] is None
    # A KQL range is refused (alert rules have no ranges); an unknown language too.
    for language, query in (("kql", "a > 3"), ("sql", "a")):
        refused = cli("alerts", "add", "--name", "r", "--language", language, "--query", query)
        assert refused.exit_code == 2 and refused.stderr.count("\n") == 1


def _article(i: int, title: str, body: str, age: timedelta, story: str) -> EnrichedArticle:
    now = datetime.now(UTC)
    return EnrichedArticle(
        id=f"cli-bt-{i}", title=title, body=body, source=f"wire-{i}",
        published_at=now - age, ingested_at=now, language="en", story_id=story,
    )  # fmt: skip


def test_backtest_by_query_and_by_rule_id(cli: Run, namespace) -> None:  # type: ignore[no-untyped-def]
    articles = [
        _article(1, "Boat lands at Lampedusa", "A fishing boat with 60 people on board "
                 "reached Lampedusa at dawn.", timedelta(hours=5), "s1"),
        _article(2, "Second landing on Lampedusa", "Another boat reached the island of "
                 "Lampedusa in the afternoon.", timedelta(days=2), "s2"),
        _article(3, "Lampedusa hotspot, last month", "The reception centre on Lampedusa "
                 "held 900 people after several boat arrivals.", timedelta(days=20), "s3"),
        _article(4, "Ferry strike in Sicily", "Ferries to the islands did not sail.",
                 timedelta(days=1), "s4"),
    ]  # fmt: skip
    assert index_documents(namespace.es, articles, index=namespace.settings.index.articles) == []
    namespace.es.indices.refresh(index=namespace.settings.index.articles)

    by_query = cli("alerts", "test", "Lampedusa AND boat", "--days", "7")
    assert by_query.exit_code == 0, by_query.output
    out = by_query.stdout
    assert "would have matched 2 articles in 2 stories in the last 7 days" in out
    assert out.index("Boat lands at Lampedusa") < out.index("Second landing on Lampedusa")
    assert "wire-1" in out
    assert "Lampedusa hotspot" not in out
    assert "Ferry strike" not in out

    add = cli("alerts", "add", "--name", "Lampedusa boats", "--query", "Lampedusa AND boat")
    assert add.exit_code == 0, add.output
    by_id = cli("alerts", "test", "lampedusa-boats", "--days", "30", "--json")
    assert by_id.exit_code == 0, by_id.output
    result = json.loads(by_id.stdout)
    assert result["query"] == "Lampedusa AND boat"
    assert (result["articles"], result["stories"]) == (3, 3)
    assert [m["id"] for m in result["matches"]] == ["cli-bt-1", "cli-bt-2", "cli-bt-3"]

    bad = cli("alerts", "test", "Lampedusa AND (boat")
    assert bad.exit_code == 2
    assert "position" in bad.stderr


@pytest.mark.security
def test_a_generated_secret_is_shown_once_and_never_again(cli: Run, namespace) -> None:  # type: ignore[no-untyped-def]
    added = cli("alerts", "add", "--name", "Ceuta", "--query", "Ceuta",
                "--webhook", "https://hooks.example.org/ceuta?token=query-credential")
    assert added.exit_code == 0, added.output
    [line] = [x for x in added.stdout.splitlines() if "whsec_" in x]
    secret = line.rsplit(" ", 1)[1]
    stored = load_rules(namespace.settings)["ceuta"]
    assert stored.channels[0].secrets[0].get_secret_value() == secret  # type: ignore[union-attr]
    mirror = namespace.es.get(index=namespace.settings.index.alert_rules, id="ceuta")["_source"]
    later = [cli("alerts", "show", "ceuta").output, cli("alerts", "list", "--json").output,
             cli("alerts", "list").output, json.dumps(mirror), repr(stored)]
    for text in later:
        assert secret not in text and "query-credential" not in text
    assert json.loads(later[0])["channels"][0]["url"] == "https://hooks.example.org/ceuta?***"

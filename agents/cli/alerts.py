"""``newsflow alerts …``: add, list, show, enable, disable, delete and test alert rules.

Rules go to the compacted rules topic (every worker follows it) and to the Elasticsearch
mirror Kibana lists.  Secrets are never printed.  Exit codes: 0 done, 1 no such rule,
2 invalid input or a service that cannot be reached.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeGuard, get_args

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agents.cli._exit import fail as _fail
from pipeline.alerts.backtest import MAX_MATCHES, BacktestResult, backtest
from pipeline.alerts.rules import Language, RuleSyntaxError, is_language, parse_rule
from pipeline.alerts.rules.limits import MAX_CLAUSES, MAX_DEPTH, MAX_RULE_LENGTH, MAX_WILDCARDS
from pipeline.alerts.store import (
    RuleNotFound,
    RuleStore,
    RuleStoreError,
    generated_secrets,
    rule_id_from_name,
)
from pipeline.core.es_client import es_client
from pipeline.core.settings import get_settings
from pipeline.index.search import SearchError
from schemas.alerts import AlertRule, DeliveryMode, EmailChannel, SlackChannel, WebhookChannel

alerts_app = typer.Typer(help="Manage keyword alert rules.", no_args_is_help=True)

_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")


def _is_mode(value: str) -> TypeGuard[DeliveryMode]:
    return value in get_args(DeliveryMode)


@contextmanager
def _store() -> Iterator[RuleStore]:
    store = RuleStore(get_settings())
    try:
        yield store
    except RuleStoreError as e:
        _fail(str(e), 2)
    except RuleNotFound as e:
        _fail(f"no rule {e.args[0]!r} (see `newsflow alerts list`)", 1)
    finally:
        store.close()


def _validation_message(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "rule"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"invalid {where}: {first['msg']}{more}"


def _channel_summary(rule: AlertRule) -> str:
    parts = []
    for channel in rule.channels:
        if isinstance(channel, EmailChannel):
            parts.append(f"email:{','.join(channel.to)}")
        else:
            signed = " (signed)" if isinstance(channel, WebhookChannel) and channel.secrets else ""
            parts.append(f"{channel.kind}:{channel.url.host}{signed}")
    return "\n".join(parts) or "-"


def _language(value: str) -> Language:
    if not is_language(value):
        _fail(f"invalid --language {value!r}: use lucene or kql")
    return value


def _state(rule: AlertRule) -> str:
    if rule.enabled:
        return "yes"
    return f"no: {rule.disabled_reason}" if rule.disabled_reason else "no"


def _masked_json(rule: AlertRule) -> dict[str, Any]:
    return rule.model_dump(mode="json")


@alerts_app.command("add")
def add_command(
    name: Annotated[str, typer.Option(help="What the rule watches, for people.")],
    query: Annotated[
        str,
        typer.Option(
            help=f"The query, as typed in Kibana's search bar (at most {MAX_RULE_LENGTH:,} "
            f"characters, {MAX_DEPTH} levels of parentheses, {MAX_CLAUSES} terms, "
            f"{MAX_WILDCARDS} wildcard patterns)."
        ),
    ],
    webhook: Annotated[
        str | None, typer.Option(help="POST each alert as signed JSON (Standard Webhooks) here.")
    ] = None,
    secret_file: Annotated[
        Path | None,
        typer.Option(
            help="File with the webhook's signing secret(s), one a line (several: rotation). "
            "Without any --secret-* option a secret is generated and shown once.",
            dir_okay=False,
        ),
    ] = None,
    secret_env: Annotated[
        str | None, typer.Option(help="Name of an environment variable holding the secret.")
    ] = None,
    prompt_secret: Annotated[
        bool, typer.Option("--prompt-secret", help="Type the secret at a hidden prompt.")
    ] = False,
    secret: Annotated[str | None, typer.Option(hidden=True)] = None,
    slack: Annotated[str | None, typer.Option(help="Slack incoming-webhook URL.")] = None,
    email: Annotated[list[str] | None, typer.Option(help="Recipient address (repeatable).")] = None,
    mode: Annotated[str, typer.Option(help="instant, or an hourly/daily digest.")] = "instant",
    throttle: Annotated[int, typer.Option(min=0, help="Minimum seconds between two messages.")] = 0,
    rule_id: Annotated[
        str | None, typer.Option("--id", help="Rule id (default: a slug of the name).")
    ] = None,
    disabled: Annotated[bool, typer.Option(help="Store the rule switched off.")] = False,
    language: Annotated[
        str, typer.Option(help="Query language: lucene, or kql (Kibana's default).")
    ] = "lucene",
) -> None:
    """Add a rule, or update the rule with the same id (its creation time is kept)."""
    if secret is not None:
        _fail(
            "--secret would leave the secret in `ps` and your shell history: use "
            "--secret-file, --secret-env or --prompt-secret (or none, and one is generated)"
        )
    secrets = _read_secrets(secret_file, secret_env, prompt_secret)
    if secrets and webhook is None:
        _fail("a secret signs a webhook: give --webhook too")
    if not _is_mode(mode):
        _fail(f"invalid --mode {mode!r}: use instant, hourly or daily")
    query_language = _language(language)
    try:
        parse_rule(query, language=query_language)
    except RuleSyntaxError as e:
        _fail(f"invalid query: {e}")
    channels: list[Any] = []
    now = datetime.now(UTC)
    try:
        if webhook is not None:
            channels.append(WebhookChannel.model_validate({"url": webhook, "secrets": secrets}))
        if slack is not None:
            channels.append(SlackChannel.model_validate({"url": slack}))
        if email:
            channels.append(EmailChannel(to=email))
        rule = AlertRule(
            id=rule_id or rule_id_from_name(name),
            name=name,
            query=query,
            language=query_language,
            enabled=not disabled,
            channels=channels,
            mode=mode,
            throttle_seconds=throttle,
            created_at=now,
            updated_at=now,
        )
    except ValidationError as e:
        _fail(_validation_message(e))
    except ValueError as e:
        _fail(str(e))
    with _store() as store:
        stored, created = store.put_rule(rule)
    state = "" if stored.enabled else " (disabled)"
    typer.echo(f"{'added' if created else 'updated'} rule {stored.id}{state}")
    for where, new in generated_secrets(rule, stored):
        typer.echo(f"webhook secret for {where} (shown this once; configure the receiver): {new}")


def _read_secrets(path: Path | None, env: str | None, prompt: bool) -> list[str]:
    """The webhook secret(s) from one place that is not the command line."""
    if sum([path is not None, env is not None, prompt]) > 1:
        _fail("give one of --secret-file, --secret-env and --prompt-secret")
    if path is not None:
        try:
            text = path.read_text()
        except OSError as e:
            _fail(f"cannot read --secret-file {path}: {e.strerror}")
    elif env is not None:
        if not os.environ.get(env):
            _fail(f"--secret-env {env}: that environment variable is not set")
        text = os.environ[env]
    elif prompt:
        text = typer.prompt("Webhook secret", hide_input=True)
    else:
        return []
    return [line.strip() for line in text.splitlines() if line.strip()]


@alerts_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the rules as JSON.")] = False,
) -> None:
    """List every rule (secrets masked)."""
    with _store() as store:
        rules = sorted(store.load_rules().values(), key=lambda r: r.id)
    if as_json:
        typer.echo(json.dumps([_masked_json(r) for r in rules], indent=2))
        return
    if not rules:
        typer.echo("no rules (add one with `newsflow alerts add`)")
        return
    table = Table(title=f"{len(rules)} alert rule{'s' if len(rules) != 1 else ''}")
    table.add_column("id", no_wrap=True)
    for column in ("name", "on", "mode", "throttle", "channels", "query"):
        table.add_column(column, overflow="fold")
    for rule in rules:
        table.add_row(
            escape(rule.id),
            escape(rule.name),
            escape(_state(rule)),
            rule.mode,
            f"{rule.throttle_seconds}s" if rule.throttle_seconds else "-",
            escape(_channel_summary(rule)),
            escape(rule.query if rule.language == "lucene" else f"{rule.query}  (kql)"),
        )
    Console(highlight=False).print(table)


@alerts_app.command("show")
def show_command(rule_id: Annotated[str, typer.Argument(help="Rule id.")]) -> None:
    """Print one rule as JSON (secrets masked)."""
    with _store() as store:
        rule = store.get_rule(rule_id)
    typer.echo(json.dumps(_masked_json(rule), indent=2))


def _switch(rule_id: str, enabled: bool) -> None:
    with _store() as store:
        rule = store.set_enabled(rule_id, enabled)
    typer.echo(f"rule {rule.id} {'enabled' if rule.enabled else 'disabled'}")


@alerts_app.command("enable")
def enable_command(rule_id: Annotated[str, typer.Argument(help="Rule id.")]) -> None:
    """Switch a rule on."""
    _switch(rule_id, True)


@alerts_app.command("disable")
def disable_command(rule_id: Annotated[str, typer.Argument(help="Rule id.")]) -> None:
    """Switch a rule off (it is kept; `enable` brings it back)."""
    _switch(rule_id, False)


@alerts_app.command("delete")
def delete_command(rule_id: Annotated[str, typer.Argument(help="Rule id.")]) -> None:
    """Delete a rule (a tombstone on the rules topic; workers drop it)."""
    with _store() as store:
        existed = store.delete_rule(rule_id)
    if not existed:
        _fail(f"no rule {rule_id!r} (see `newsflow alerts list`)", 1)
    typer.echo(f"deleted rule {rule_id}")


@alerts_app.command("sync")
def sync_command() -> None:
    """Rewrite the Elasticsearch mirror of the rules from the rules topic."""
    with _store() as store:
        count = store.sync_mirror()
    typer.echo(f"mirrored {count} rule{'s' if count != 1 else ''}")


def _print_backtest(result: BacktestResult, label: str, console: Console) -> None:
    days = (result.until - result.since).total_seconds() / 86_400
    more = "" if result.articles_is_exact else "+"
    console.print(
        f"{label} would have matched [bold]{result.articles}{more}[/bold] article"
        f"{'s' if result.articles != 1 else ''} in [bold]{result.stories}[/bold] "
        f"stor{'ies' if result.stories != 1 else 'y'} in the last {days:g} days"
    )
    for match in result.matches:
        when = match.published_at.strftime("%Y-%m-%d %H:%M") if match.published_at else "?"
        copies = f" ({match.copies} copies)" if match.copies and match.copies > 1 else ""
        console.print(
            f"  {when}  [bold]{escape(match.title or '(no title)')}[/bold]"
            f"  [dim]{escape(match.source or '?')} · {escape(match.id)}{copies}[/dim]"
        )


@alerts_app.command("test")
def test_command(
    query_or_id: Annotated[str, typer.Argument(help="A stored rule's id, or a query.")],
    days: Annotated[float, typer.Option(min=0.01, help="Window, back from now.")] = 7.0,
    limit: Annotated[
        int, typer.Option(min=0, max=MAX_MATCHES, help="Latest matches to show.")
    ] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    language: Annotated[
        str, typer.Option(help="Language of a query given here: lucene or kql.")
    ] = "lucene",
) -> None:
    """Backtest: what a rule (or query) would have matched in the last days."""
    given_language = _language(language)
    settings = get_settings()
    rule: AlertRule | None = None
    if _RULE_ID.match(query_or_id):  # could be an id: a stored rule wins over the query
        with _store() as store:
            rule = store.load_rules().get(query_or_id)
    query = rule.query if rule is not None else query_or_id
    query_language = rule.language if rule is not None else given_language
    label = f"rule {rule.id}" if rule is not None else "query"
    client = es_client(settings, max_retries=1, request_timeout=15.0)
    try:
        result = backtest(
            client, settings.index.articles, query,
            language=query_language, days=days, size=limit,
        )
    except RuleSyntaxError as e:
        _fail(f"invalid query: {e}")
    except SearchError as e:
        _fail(str(e))
    finally:
        client.close()
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        _print_backtest(result, label, Console(highlight=False))

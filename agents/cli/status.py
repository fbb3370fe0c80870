"""``newsflow status``: one screen on the health of the pipeline, or JSON for scripts."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console, Group, JustifyMethod, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from pipeline.core.settings import get_settings
from pipeline.operations.status import ServiceHealth, StatusReport, collect

_COLOURS = {"green": "green", "yellow": "yellow", "red": "red"}


def status_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as one JSON object.")
    ] = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="Refresh every 2 seconds until Ctrl-C.")
    ] = False,
    sample: Annotated[
        int, typer.Option(min=0, help="Latest dead letters read to break the count down.")
    ] = 1000,
) -> None:
    settings = get_settings()
    if watch and not as_json:
        with Live(console=Console(), auto_refresh=False) as live:
            try:
                while True:
                    live.update(render(collect(settings, sample=sample)), refresh=True)
                    time.sleep(2)
            except KeyboardInterrupt:
                pass
        return
    report = collect(settings, sample=sample)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        Console().print(render(report))
    if not report.ok:
        raise typer.Exit(2)


# Built from one-line paragraphs: typer's rich help keeps a docstring's line breaks.
status_command.__doc__ = "\n\n".join([
    "Show the pipeline's health on one screen.",
    "Kafka and Elasticsearch (reachable, cluster colour); per topic and partition the end "
    "offset, the consumer group's committed offset and the lag; dead letters by stage and "
    "reason; documents in the article and alert indices; the workers in the group; the "
    "followed feeds by health (ok, failing, stale, new) with the failing ones listed.",
    "Exit status 2 when Kafka or Elasticsearch cannot be reached or the cluster is red.",
])


def render(report: StatusReport) -> RenderableType:
    """The report as rich tables, most urgent first."""
    parts: list[Table] = [_services(report)]
    if report.topics:
        parts.append(_offsets(report))
    if report.dead_letters is not None:
        parts.append(_dead_letters(report))
    if report.indices:
        parts.append(_indices(report))
    if report.kafka.reachable:
        parts.append(_workers(report))
    if report.feeds is not None and (report.feeds.count or report.feeds.error):
        parts.append(_feeds(report))
    return Group(*(_titled(table) for table in parts))


def _titled(table: Table) -> RenderableType:
    """The title on its own line: as a table title it would wrap at the table's width."""
    title, table.title = table.title, None
    return Group(Text(str(title), style="bold"), table)


def _service_row(service: ServiceHealth) -> tuple[str, Text, str]:
    if not service.reachable:
        return service.name, Text("down", style="bold red"), service.error or ""
    if service.health:
        return service.name, Text(service.health, style=_COLOURS.get(service.health, "")), ""
    return service.name, Text("up", style="green"), ""


def _services(report: StatusReport) -> Table:
    table = Table(title="services", title_justify="left")
    for column in ("service", "state", "address", "detail"):
        table.add_column(column, overflow="fold")
    for service in (report.kafka, report.elasticsearch):
        name, state, detail = _service_row(service)
        table.add_row(name, state, escape(service.address), escape(detail))
    return table


def _offsets(report: StatusReport) -> Table:
    state = f", {report.group_state.lower()}" if report.group_state else ""
    table = Table(title=f"consumer group {report.group}{state} · total lag {report.total_lag}",
                  title_justify="left")
    columns: list[tuple[str, JustifyMethod]] = [
        ("topic", "left"), ("partition", "right"), ("end", "right"), ("committed", "right"),
        ("lag", "right")]
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for topic in report.topics:
        for p in topic.partitions:
            lag = Text(str(p.lag), style="yellow" if p.lag else "green")
            committed = "-" if p.committed is None else str(p.committed)
            table.add_row(escape(topic.name), str(p.partition), str(p.end), committed, lag)
    return table


def _dead_letters(report: StatusReport) -> Table:
    letters = report.dead_letters
    assert letters is not None
    title = f"dead letters on {letters.topic}: {letters.total}"
    if letters.sampled < letters.total:
        title += f" (breakdown of the latest {letters.sampled})"
    table = Table(title=title, title_justify="left")
    columns: list[tuple[str, JustifyMethod]] = [
        ("stage", "left"), ("reason", "left"), ("count", "right")]
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for row in letters.by_reason:
        table.add_row(row.stage, escape(row.reason), str(row.count))
    if letters.error:
        table.add_row("?", escape(letters.error), "-")
    return table


def _indices(report: StatusReport) -> Table:
    table = Table(title="indices", title_justify="left")
    table.add_column("index")
    table.add_column("documents", justify="right")
    for index in report.indices:
        table.add_row(escape(index.name),
                      str(index.docs) if index.docs is not None else escape(index.error or "?"))
    return table


def _workers(report: StatusReport) -> Table:
    table = Table(title=f"workers: {len(report.workers)}", title_justify="left")
    for column in ("host", "client", "partitions", "member"):
        table.add_column(column, overflow="fold")
    for worker in report.workers:
        table.add_row(escape(worker.host), escape(worker.client_id), str(worker.partitions),
                      escape(worker.member_id))
    return table


_FEED_ROWS = 20


def _feeds(report: StatusReport) -> Table:
    """Followed feeds: counts by health, then the unhealthy ones (all, when few)."""
    feeds = report.feeds
    assert feeds is not None
    counts = ", ".join(f"{n} {health}" for health, n in sorted(feeds.by_health.items()))
    table = Table(title=f"feeds on {feeds.topic}: {feeds.count}" + (f" ({counts})" if counts
                                                                    else ""),
                  title_justify="left")
    for column in ("feed", "health", "status", "published", "failures", "error"):
        table.add_column(column, overflow="fold")
    shown = feeds.feeds if feeds.count <= _FEED_ROWS else [
        f for f in feeds.feeds if f.health in {"failing", "stale"}][:_FEED_ROWS]
    for feed in shown:
        style = {"ok": "green", "failing": "red", "stale": "yellow"}.get(feed.health, "")
        table.add_row(escape(feed.title or feed.url), Text(feed.health, style=style),
                      str(feed.last_status or "-"), str(feed.published), str(feed.failures),
                      escape(feed.error or ""))
    if feeds.error:
        table.add_row("?", "?", "-", "-", "-", escape(feeds.error))
    return table

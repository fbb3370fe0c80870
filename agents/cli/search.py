"""``newsflow search QUERY``: search the article index from the terminal or a script."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from agents.cli._exit import fail as _fail
from pipeline.alerts.rules import is_language
from pipeline.core.es_client import es_client
from pipeline.core.settings import get_settings
from pipeline.index.search import (
    DEFAULT_OPERATOR,
    HIGHLIGHT_POST,
    HIGHLIGHT_PRE,
    ClusterUnavailable,
    QueryError,
    SearchError,
    SearchRequest,
    SearchResult,
    parse_time,
    run_search,
)

_MARK = re.compile(f"{re.escape(HIGHLIGHT_PRE)}(.*?){re.escape(HIGHLIGHT_POST)}", re.DOTALL)


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint=option) from e


def _markup(fragment: str) -> str:
    """Rich markup for a highlighted fragment: escape the text, bold the matches."""
    out: list[str] = []
    last = 0
    for match in _MARK.finditer(fragment):
        out.append(escape(fragment[last : match.start()]))
        out.append(f"[bold yellow]{escape(match.group(1))}[/bold yellow]")
        last = match.end()
    out.append(escape(fragment[last:]))
    return " ".join("".join(out).split())


def _print(result: SearchResult, console: Console) -> None:
    stories = f", {result.stories} stories" if result.stories is not None else ""
    more = "" if result.total_is_exact else "+"
    console.print(
        f"[bold]{result.total}{more}[/bold] articles{stories} match "
        f"[cyan]{escape(result.query)}[/cyan] ({result.took_ms} ms)"
    )
    for n, hit in enumerate(result.hits, 1):
        title_hl = hit.highlights.get("title")
        title = _markup(title_hl[0]) if title_hl else escape(hit.title or "(no title)")
        when = hit.published_at.strftime("%Y-%m-%d %H:%M") if hit.published_at else "?"
        meta = " · ".join(x for x in (when, hit.source, hit.language) if x)
        copies = f" · {hit.copies} copies" if hit.copies and hit.copies > 1 else ""
        console.print(f"\n[bold]{n}. {title}[/bold]")
        console.print(f"   [dim]{escape(meta)}{copies} · id {escape(hit.id)}[/dim]")
        if hit.url:
            console.print(f"   [blue]{escape(hit.url)}[/blue]")
        for fragment in hit.highlights.get("body", []):
            console.print(f"   … {_markup(fragment)} …")
        if hit.tags:
            console.print(f"   [green]tags:[/green] {escape(', '.join(hit.tags))}")
        if hit.places:
            console.print(f"   [green]places:[/green] {escape(', '.join(hit.places))}")
    facets = {name: buckets for name, buckets in result.facets.items() if buckets}
    if facets:
        console.print("\n[bold]facets[/bold]")
    for name, buckets in facets.items():
        values = " · ".join(f"{escape(b.value)} [dim]{b.count}[/dim]" for b in buckets)
        console.print(f"  [green]{name}:[/green] {values}")


def search_command(
    query: Annotated[
        str,
        typer.Argument(
            help=f"Lucene query string (or KQL with --language kql), as in alert rules and "
            f"Kibana; bare terms search title and body and are combined with "
            f"{DEFAULT_OPERATOR}; field:value reaches any field (places:Iquique, "
            "tags:detention). '*' matches everything."
        ),
    ] = "*",
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Taxonomy tag id (repeat = OR).")
    ] = None,
    place: Annotated[
        list[str] | None, typer.Option("--place", help="Place name (repeat = OR).")
    ] = None,
    person: Annotated[
        list[str] | None, typer.Option("--person", help="Person (repeat = OR).")
    ] = None,
    org: Annotated[
        list[str] | None, typer.Option("--org", help="Organisation (repeat = OR).")
    ] = None,
    lang: Annotated[
        list[str] | None,
        typer.Option("--lang", help="Article language, ISO 639-1 code (repeat = OR)."),
    ] = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Publisher (repeat = OR).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="ISO date/time, or 30m, 24h, 7d, 2w ago.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="ISO date/time, or 30m, 24h, 7d, 2w ago.")
    ] = None,
    size: Annotated[int, typer.Option(min=0, max=500, help="Hits to show.")] = 10,
    collapse: Annotated[
        bool, typer.Option(help="One hit per story: hide syndicated copies.")
    ] = False,
    newest: Annotated[bool, typer.Option(help="Sort by publication time, newest first.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print results and facets as JSON.")
    ] = False,
    query_language: Annotated[
        str,
        typer.Option("--language", help="Query language: lucene, or kql (Kibana's default)."),
    ] = "lucene",
) -> None:
    """Search indexed articles, with highlighted snippets and facet counts."""
    if not is_language(query_language):
        _fail(
            f"--language is the query language (lucene or kql), not {query_language!r}; "
            f"filter articles by language with --lang {query_language}",
            2,
        )
    request = SearchRequest(
        query=query,
        query_language=query_language,
        tags=tag or [],
        places=place or [],
        persons=person or [],
        orgs=org or [],
        languages=lang or [],
        sources=source or [],
        since=_time(since, "--since"),
        until=_time(until, "--until"),
        size=size,
        collapse=collapse,
        sort="newest" if newest else "relevance",
    )
    settings = get_settings()
    client = es_client(settings, max_retries=1, request_timeout=15.0)
    try:
        result = run_search(client, settings.index.articles, request)
    except (QueryError, ClusterUnavailable) as e:
        _fail(str(e), 2)
    except SearchError as e:
        _fail(str(e), 1)
    finally:
        client.close()
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        _print(result, Console(highlight=False))

"""Every input format becomes RawArticles; a bad file or record is one rejection, never a stop."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.ingest.inputs import (
    Parsed,
    Rejected,
    find_dateline,
    read_path,
    read_sources,
    to_raw_article,
)
from pipeline.ingest.inputs.feeds import strip_html
from pipeline.ingest.inputs.records import RecordError, to_aware_datetime
from tests.support import ROOT, SAMPLE_ARTICLE

DEMO_SAMPLES = ROOT / "deploy" / "demo" / "samples"

BODY_EN = "Officials at the northern crossing said 300 people arrived overnight seeking asylum."
BODY_ES = "Unas 200 personas cruzaron el río durante la madrugada, según la policía fronteriza."


def _parsed(items: list[Parsed | Rejected]) -> list[Parsed]:
    return [item for item in items if isinstance(item, Parsed)]


def _rejected(items: list[Parsed | Rejected]) -> list[Rejected]:
    return [item for item in items if isinstance(item, Rejected)]


# --- records ---------------------------------------------------------------------------------

def test_unknown_fields_go_to_metadata_instead_of_failing() -> None:
    raw = to_raw_article({
        "body": BODY_EN, "category": "asylum", "tags": ["border", "asylum"],
        "priority": 2, "metadata": {"desk": "north"},
    })
    assert raw.metadata == {
        "category": "asylum", "tags": '["border", "asylum"]', "priority": 2, "desk": "north",
    }


def test_aliases_map_to_fields_unless_the_field_itself_is_present() -> None:
    raw = to_raw_article({"text": BODY_ES, "link": "https://e.org/a", "lang": "es",
                          "author": "Ana Ruiz", "headline": "Cruce nocturno"})
    assert (raw.body, str(raw.url), raw.language, raw.authors, raw.title) == (
        BODY_ES, "https://e.org/a", "es", ["Ana Ruiz"], "Cruce nocturno")
    both = to_raw_article({"body": BODY_EN, "text": "another text"})
    assert both.body == BODY_EN
    assert both.metadata == {"text": "another text"}


def test_invalid_record_gives_one_line_reason() -> None:
    with pytest.raises(RecordError) as info:
        to_raw_article({"title": "no body here", "id": "not an id!"})
    reason = str(info.value)
    assert "body" in reason and "id" in reason and "\n" not in reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-02", datetime(2024, 3, 2, tzinfo=UTC)),
        ("2024-03-02T10:15:00", datetime(2024, 3, 2, 10, 15, tzinfo=UTC)),
        ("2024-03-02T10:15:00Z", datetime(2024, 3, 2, 10, 15, tzinfo=UTC)),
        ("2024-03-02T10:15:00-05:00",
         datetime(2024, 3, 2, 10, 15, tzinfo=timezone(timedelta(hours=-5)))),
        ("Sat, 02 Mar 2024 10:15:00 GMT", datetime(2024, 3, 2, 10, 15, tzinfo=UTC)),
        (1709374500, datetime(2024, 3, 2, 10, 15, tzinfo=UTC)),
        (1709374500000, datetime(2024, 3, 2, 10, 15, tzinfo=UTC)),
        (datetime(2024, 3, 2, 10, 15), datetime(2024, 3, 2, 10, 15, tzinfo=UTC)),
    ],
)
def test_dates_become_timezone_aware_naive_taken_as_utc(value: object, expected: datetime) -> None:
    parsed = to_aware_datetime(value)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == expected.utcoffset()


def test_unparseable_date_is_dropped_and_kept_raw_in_metadata() -> None:
    raw = to_raw_article({"body": BODY_EN, "published_at": "last Tuesday"})
    assert raw.published_at is None
    assert "'last Tuesday'" in raw.metadata["dropped.published_at"]


# --- JSON and JSON Lines -------------------------------------------------------------------

def test_json_object_and_list(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(json.dumps(
        {"title": "Crossing", "body": BODY_EN, "published_at": "2024-05-01T08:00:00"}))
    (tmp_path / "many.json").write_text(json.dumps(
        [{"body": BODY_EN}, {"title": "missing body"}, {"body": BODY_ES, "language": "es"}]))
    one = list(read_path(tmp_path / "one.json"))
    assert [p.article.title for p in _parsed(one)] == ["Crossing"]
    assert _parsed(one)[0].article.published_at == datetime(2024, 5, 1, 8, tzinfo=UTC)
    many = list(read_path(tmp_path / "many.json"))
    assert [p.article.body for p in _parsed(many)] == [BODY_EN, BODY_ES]
    [bad] = _rejected(many)
    assert bad.origin.endswith("many.json[1]") and "body" in bad.reason


def test_jsonl_bad_lines_are_rejected_alone_with_their_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join([
        json.dumps({"body": BODY_EN, "category": "asylum"}),
        "{not json",
        "",
        json.dumps({"body": BODY_ES}),
        json.dumps(["not", "an", "object"]),
    ]) + "\n")
    items = list(read_path(path))
    assert [p.article.body for p in _parsed(items)] == [BODY_EN, BODY_ES]
    assert _parsed(items)[0].article.metadata == {"category": "asylum"}
    assert [r.origin.rsplit(":", 1)[1] for r in _rejected(items)] == ["2", "5"]
    assert "not valid JSON" in _rejected(items)[0].reason


# --- plain text ----------------------------------------------------------------------------

def test_plain_text_sample_keeps_body_whole_and_finds_the_dateline() -> None:
    text = SAMPLE_ARTICLE.read_text(encoding="utf-8")
    [item] = list(read_path(SAMPLE_ARTICLE))
    assert isinstance(item, Parsed)
    article = item.article
    assert article.title is None
    assert article.body == text.strip()
    assert article.body.startswith("IQUIQUE, Chile —")
    assert article.metadata["dateline"] == "IQUIQUE, Chile"
    assert article.metadata["source_file"] == SAMPLE_ARTICLE.name


@pytest.mark.parametrize(
    ("opening", "dateline"),
    [
        ("SANTA CRUZ, Bolivia—Chile's minister resigned.", "SANTA CRUZ, Bolivia"),
        ("TAPACHULA, México.— Cientos de personas salieron.", "TAPACHULA, México"),
        ("EL PASO, Texas (AP) - Agents said on Monday.", "EL PASO, Texas (AP)"),
        ("CIUDAD JUÁREZ – Las autoridades informaron.", "CIUDAD JUÁREZ"),
        ("Officials said on Monday that arrivals fell.", None),
        ("The well-known route — now closed — was busy.", None),
    ],
)
def test_dateline_detection(opening: str, dateline: str | None) -> None:
    assert find_dateline(opening) == dateline


def test_text_without_dateline_has_no_dateline_metadata(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text(BODY_EN + "\n\nSecond paragraph.\n")
    [item] = list(read_path(path))
    assert isinstance(item, Parsed)
    assert item.article.body == BODY_EN + "\n\nSecond paragraph."
    assert "dateline" not in item.article.metadata


# --- HTML ----------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html><html lang="es"><head><meta charset="utf-8">
<title>Cierran un albergue en la frontera | El Observador</title>
<link rel="canonical" href="https://observador.example.com/frontera/albergue-cierra">
<meta property="og:site_name" content="El Observador">
<meta property="article:published_time" content="2024-04-09T07:30:00-06:00">
<meta name="author" content="Pedro Gil">
</head><body>
<nav><a href="/">Portada</a> | <a href="/deportes">Deportes</a></nav>
<article><h1>Cierran un albergue en la frontera</h1>
<p>El único albergue para familias migrantes de la ciudad cerró sus puertas el lunes por falta
de fondos, según informaron sus responsables, que atendían a unas ochenta personas cada noche.</p>
<p>Las familias fueron trasladadas a un polideportivo municipal mientras el ayuntamiento busca
un nuevo espacio, aunque varias organizaciones advirtieron que el lugar no tiene calefacción.</p>
</article>
<footer>Aviso legal y política de cookies del periódico</footer>
</body></html>"""


def test_html_page_main_text_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "albergue.html"
    path.write_text(PAGE, encoding="utf-8")
    [item] = list(read_path(path))
    assert isinstance(item, Parsed), item
    article = item.article
    assert article.title == "Cierran un albergue en la frontera"
    assert str(article.url) == "https://observador.example.com/frontera/albergue-cierra"
    assert article.published_at == datetime(2024, 4, 9, 13, 30, tzinfo=UTC)
    assert article.language == "es"
    assert article.authors == ["Pedro Gil"]
    assert article.source == "El Observador"
    assert article.body.startswith("El único albergue")
    assert "calefacción" in article.body
    assert "Deportes" not in article.body and "cookies" not in article.body


def test_html_without_text_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.htm"
    path.write_text("<html><head><title>x</title></head><body></body></html>")
    [item] = list(read_path(path))
    assert isinstance(item, Rejected) and "no article text" in item.reason


# --- feeds ---------------------------------------------------------------------------------

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Frontier Notes</title><language>en-gb</language>
<item><title>Boat arrivals rise</title><link>https://notes.example.net/boats</link>
<pubDate>Mon, 03 Jun 2024 09:00:00 +0200</pubDate><category>Sea crossings</category>
<description><![CDATA[<p>More boats reached the islands &amp; ports.</p>
<p>Rescuers were <b>busy</b>.</p><script>track()</script>]]></description></item>
<item><title>Headline only</title><link>https://notes.example.net/empty</link></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atlas Migración</title>
<entry><title>Deportaciones en aumento</title>
<link href="https://atlas.example.org/deportaciones"/><id>tag:atlas,2024:1</id>
<updated>2024-06-01T12:00:00Z</updated><author><name>Rosa Díaz</name></author>
<content type="html">&lt;p&gt;Las deportaciones aumentaron un 12 %.&lt;/p&gt;</content></entry>
</feed>"""


def test_rss_entries_become_articles_with_html_stripped(tmp_path: Path) -> None:
    path = tmp_path / "notes.rss"
    path.write_text(RSS, encoding="utf-8")
    items = list(read_path(path))
    first = _parsed(items)[0]
    article = first.article
    assert first.origin.endswith("notes.rss[0]")
    assert article.title == "Boat arrivals rise"
    assert str(article.url) == "https://notes.example.net/boats"
    assert article.published_at == datetime(2024, 6, 3, 7, 0, tzinfo=UTC)
    assert article.body == "More boats reached the islands & ports.\nRescuers were busy."
    assert article.source == "Frontier Notes"
    assert article.language == "en"
    assert article.metadata["categories"] == "Sea crossings"
    assert article.metadata["body_from"] == "summary"
    assert not _rejected(items)
    headline = items[1]
    assert isinstance(headline, Parsed) and headline.origin.endswith("notes.rss[1]")
    assert (headline.article.body, headline.article.title) == ("Headline only", "Headline only")
    assert headline.article.metadata["body_from"] == "title"


def test_atom_feed(tmp_path: Path) -> None:
    path = tmp_path / "atlas.atom"
    path.write_text(ATOM, encoding="utf-8")
    [item] = list(read_path(path))
    assert isinstance(item, Parsed), item
    assert item.article.body == "Las deportaciones aumentaron un 12 %."
    assert item.article.metadata["body_from"] == "content"
    assert item.article.authors == ["Rosa Díaz"]
    assert item.article.published_at == datetime(2024, 6, 1, 12, tzinfo=UTC)
    assert item.article.metadata["guid"] == "tag:atlas,2024:1"


def test_strip_html_keeps_paragraphs_and_drops_scripts() -> None:
    assert strip_html("<p>A&nbsp;b</p><style>x{}</style><p>c<br>d</p>") == "A b\nc\nd"


# --- directories, stdin, bad files ---------------------------------------------------------

def test_directory_is_read_recursively_and_bad_files_do_not_stop_the_others(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"body": BODY_EN}))
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    (tmp_path / "nested" / "b.txt").write_text(BODY_ES)
    (tmp_path / "nested" / "deeper" / "c.ndjson").write_text(json.dumps({"body": BODY_EN + "!"}))
    (tmp_path / "nested" / "broken.json").write_text('{"body": "cut off')
    (tmp_path / "nested" / "latin1.txt").write_bytes("Según la policía".encode("latin-1"))
    (tmp_path / "notes.md").write_text("# not an article format")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "d.json").write_text(json.dumps({"body": "hidden"}))
    items = list(read_path(tmp_path))
    assert sorted(p.article.body for p in _parsed(items)) == sorted(
        [BODY_EN, BODY_ES, BODY_EN + "!"])
    reasons = {Path(r.origin).name: r.reason for r in _rejected(items)}
    assert set(reasons) == {"broken.json", "latin1.txt"}
    assert "not valid JSON" in reasons["broken.json"]
    assert "UTF-8" in reasons["latin1.txt"]


def test_explicit_unknown_or_missing_paths_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("text")
    items = list(read_sources([tmp_path / "notes.md", tmp_path / "nope.json"]))
    assert [type(i) for i in items] == [Rejected, Rejected]
    assert "unknown file type" in items[0].reason
    assert "no such file" in items[1].reason


@pytest.mark.parametrize(
    ("text", "bodies"),
    [
        (json.dumps({"body": BODY_EN}), [BODY_EN]),
        (json.dumps([{"body": BODY_EN}, {"body": BODY_ES}]), [BODY_EN, BODY_ES]),
        (json.dumps({"body": BODY_EN}) + "\n" + json.dumps({"body": BODY_ES}) + "\n",
         [BODY_EN, BODY_ES]),
        ("MADRID.— " + BODY_ES, ["MADRID.— " + BODY_ES]),
    ],
)
def test_stdin_format_is_sniffed(text: str, bodies: list[str]) -> None:
    items = list(read_sources(["-"], stdin=io.StringIO(text)))
    assert [p.article.body for p in _parsed(items)] == bodies
    assert not _rejected(items)


@pytest.mark.parametrize(
    ("data", "outcome"),
    [
        ("Según la policía".encode("latin-1"), "not UTF-8 text (byte 0xfa at offset 3)"),
        ("BERLIN — 300 people arrived.".encode("utf-16-le"), "UTF-16 without a byte-order mark"),
        (b"\xff\xfe" + json.dumps({"body": BODY_EN}).encode("utf-16-le"), BODY_EN),
    ],
)
def test_stdin_bytes_get_the_checks_files_get(data: bytes, outcome: str) -> None:
    [item] = list(read_sources(["-"], stdin=io.TextIOWrapper(io.BytesIO(data))))
    assert (item.article.body if isinstance(item, Parsed) else item.reason).find(outcome) >= 0
    assert item.origin == "<stdin>"


def test_empty_stdin_is_one_rejection() -> None:
    [item] = list(read_sources(["-"], stdin=io.StringIO(" \n")))
    assert isinstance(item, Rejected) and "empty" in item.reason


def test_demo_samples_all_parse() -> None:
    items = list(read_path(DEMO_SAMPLES))
    assert not _rejected(items), _rejected(items)
    languages = {p.article.language for p in _parsed(items) if p.article.language}
    assert {"en", "es"} <= languages
    assert len(_parsed(items)) >= 8

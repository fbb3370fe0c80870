"""Is this text, and is it clean?  Bytes → str with a reason when it is not text, and the
leftovers of broken publishing (markup, entities, control characters) found or removed.

Publishers send what their CMS produced: UTF-16 without a byte-order mark (every other
byte NUL: read as UTF-8 it becomes "B\\x00E\\x00R…"), binary files with a text extension,
HTML escaped twice (a feed's ``&amp;lt;p&amp;gt;`` becomes ``<p>`` after one round), and
entity references a parser refused to expand (an XML "billion laughs" leaves ``&lol9``).
Each check here says what it found in one line, so a reader can refuse the file or the
record with that reason, or clean the field and note what it removed.
"""

from __future__ import annotations

import codecs
import re
from html.entities import html5
from html.parser import HTMLParser

__all__ = [
    "NotText",
    "decode_text",
    "find_unexpanded_entity",
    "looks_like_markup",
    "remove_control_chars",
    "strip_html",
]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_SNIFF_BYTES = 8192
# C0 controls other than tab, line feed, carriage return; and DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_BYTES = re.compile(rb"[\x01-\x08\x0e-\x1a\x1c-\x1f]")
# A real closing tag, a line break or a paragraph: what escaped HTML leaves in "plain" text.
# "Why <div> soup" (a title about markup) has none of these, so it stays as it is.
_MARKUP = re.compile(
    r"</(?:p|div|span|a|b|i|em|strong|li|ul|ol|h[1-6]|table|tr|td|blockquote|figure|section"
    r"|article|script|style|font|u|small|sup|sub|pre|code)\s*>|<br\s*/?>|<p(?:\s[^<>]*)?>",
    re.IGNORECASE,
)
_ENTITY = re.compile(r"&([A-Za-z_][\w.\-]{0,40})(;?)")
_BLOCK_TAGS = frozenset({"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
                         "blockquote", "tr", "table", "section", "article", "figure", "pre"})
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template"})


class NotText(ValueError):
    """Bytes that are not text we can read; the message is the one-line reason."""


def decode_text(data: bytes) -> str:
    """UTF-8 (or UTF-16/32 with a byte-order mark) text, or ``NotText`` saying why not."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as e:
                raise NotText(f"not valid {codec.upper()} (byte {e.start}) after its "
                              "byte-order mark") from e
    check_binary(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        bad = data[e.start:e.start + 1].hex()
        raise NotText(f"not UTF-8 text (byte 0x{bad} at offset {e.start}): "
                      "save it as UTF-8") from e


def check_binary(data: bytes) -> None:
    """``NotText`` when the start of ``data`` is binary or UTF-16 without a byte-order mark."""
    head = data[:_SNIFF_BYTES]
    nul = head.find(b"\x00")
    if nul < 0:
        if head and len(_CONTROL_BYTES.findall(head)) > max(8, len(head) // 20):
            raise NotText("binary data, not text (control bytes throughout)")
        return
    even, odd = head[0::2], head[1::2]
    if _mostly_nul(even) or _mostly_nul(odd):
        raise NotText("looks like UTF-16 without a byte-order mark (every other byte is NUL): "
                      "save it as UTF-8")
    raise NotText(f"binary data, not text (NUL byte at offset {nul})")


def _mostly_nul(half: bytes) -> bool:
    return len(half) >= 4 and half.count(0) >= 0.8 * len(half)


def remove_control_chars(text: str) -> tuple[str, int]:
    """``text`` without NUL and other control characters (tab and newlines stay), and how many."""
    cleaned, count = _CONTROL.subn("", text)
    return cleaned, count


def looks_like_markup(text: str) -> bool:
    """True when ``text`` carries HTML a reader left in (closing tags, ``<br>``, ``<p>``)."""
    return _MARKUP.search(text) is not None


def find_unexpanded_entity(text: str, declared: frozenset[str] = frozenset()) -> str | None:
    """The first entity reference left unexpanded in ``text`` (``&lol9``), if any.

    ``declared`` are the entities a document's own DTD declares: those are never expanded
    (that is how an entity-expansion bomb is defused), so any reference to one is a
    leftover, with or without its ``;``.  Otherwise only ``&name;`` with a name HTML does
    not know counts: "AT&T" and "R&D" are text.
    """
    for match in _ENTITY.finditer(text):
        name, semicolon = match.group(1), match.group(2)
        if name in declared or (semicolon and f"{name};" not in html5):
            return match.group(0)
    return None


def strip_html(fragment: str) -> str:
    """Plain text of an HTML fragment: tags gone, entities decoded, paragraphs on new lines."""
    parser = _TextCollector()
    parser.feed(fragment)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)

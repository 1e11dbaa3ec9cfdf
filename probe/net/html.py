"""The title of an HTML page, extracted leniently and in time linear in the body's size."""

from __future__ import annotations

import codecs
import html
import re

MAX_TITLE_CHARS = 256
_MAX_TITLE_BYTES = 4 * MAX_TITLE_CHARS * 4  # room for entities and multi-byte characters
_SNIFF_BYTES = 4096  # where a <meta charset> is looked for, as browsers do (roughly)

# Bounded repetitions that stop at the next "<" keep every search linear, even on hostile
# bodies full of "<title".
_OPEN = re.compile(rb"<title(?:\s[^<>]{0,1024})?>", re.IGNORECASE)
_CLOSE = re.compile(rb"</title\s{0,64}>", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^<>]{0,512}?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]{1,40})", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]{1,40})", re.IGNORECASE)


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _charset(body: bytes, content_type: str | None) -> str:
    from_header = _HEADER_CHARSET.search(content_type or "")
    codec = _codec(from_header.group(1) if from_header else None)
    if codec is None:
        meta = _META_CHARSET.search(body, 0, _SNIFF_BYTES)
        codec = _codec(meta.group(1).decode("ascii") if meta else None)
    return codec or "utf-8"


def title(body: bytes, content_type: str | None = None) -> str | None:
    """Text of the first ``<title>``: charset from ``Content-Type``, else ``<meta charset>``, else
    UTF-8; undecodable bytes replaced, entities unescaped, whitespace collapsed, at most
    ``MAX_TITLE_CHARS`` characters. None when there is no complete title element."""
    opening = _OPEN.search(body)
    if opening is None:
        return None
    closing = _CLOSE.search(body, opening.end())
    if closing is None:
        return None
    raw = body[opening.end() : min(closing.start(), opening.end() + _MAX_TITLE_BYTES)]
    text = raw.decode(_charset(body, content_type), errors="replace")
    return " ".join(html.unescape(text).split())[:MAX_TITLE_CHARS]

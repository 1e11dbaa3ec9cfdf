"""Host names in one form: IDNA 2008 A-labels (``xn--...``), lower case, without the root dot.

A URL may name ``яндекс.рф`` while DNS queries, SNI and certificates carry ``xn--d1acpjx3f.xn--p1ai``.
Browsers map names with UTS #46 and IDNA 2008 before any lookup; every comparison of names in the
probe goes through ``canonical_name`` so that both spellings are the same name.
"""

from __future__ import annotations

import idna


def canonical_name(name: str) -> str:
    """``name`` as a browser would put it on the wire; a name IDNA rejects is only lower-cased.

    IP addresses and ASCII names come back lower-cased and unchanged otherwise.
    """
    text = name.strip().rstrip(".")
    if text.isascii():
        return text.lower()
    try:
        return idna.encode(text, uts46=True, transitional=False).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        return text.lower()


def same_name(a: str, b: str) -> bool:
    """Whether two spellings (Unicode or A-label, any case, with or without the root dot) are one name."""
    return canonical_name(a) == canonical_name(b)

"""Citations point at a document and a section that exist: the methodology in docstrings, and the docs
(``docs/``) in code and shipped files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CITATION = re.compile(r'``(\.\./shared/docs/methodology\.md)``, "([^"]+)"')
SOURCES = sorted((ROOT / "probe").rglob("*.py"))


def _citations() -> list[tuple[Path, str, str]]:
    found = []
    for path in SOURCES:
        text = " ".join(path.read_text(encoding="utf-8").split())
        found += [(path, document, section) for document, section in CITATION.findall(text)]
    return found


def test_every_mention_of_the_methodology_names_its_path() -> None:
    bare = [p.relative_to(ROOT) for p in SOURCES if re.search(r"``methodology\.md``", p.read_text(encoding="utf-8"))]
    assert bare == []
    assert len(_citations()) >= 5


@pytest.mark.parametrize(("path", "document", "section"), _citations())
def test_a_cited_methodology_section_exists(path: Path, document: str, section: str) -> None:
    cited = (ROOT / document).resolve()
    if not cited.exists():
        pytest.skip(f"{document} is not beside this checkout")
    headings = [line.lstrip("#").strip() for line in cited.read_text(encoding="utf-8").splitlines()]
    assert section in headings, f"{path.relative_to(ROOT)} cites a section {document} does not have: {section!r}"


# ``docs/page.md``, "Section" (or without the backquotes), and "Section" in docs/page.md; not ../shared/docs/.
DOCS_CITATION = re.compile(
    r'(?:``)?(?<![\w/.])(docs/[a-z-]+\.md)(?:``)?, "([^"]+)"|"([^"]+)" in (?<![\w/.])(docs/[a-z-]+\.md)'
)
CITING = [*SOURCES, *sorted((ROOT / "configs").rglob("*.service")), ROOT / "configs" / "datasette" / "metadata.json"]


def _docs_citations() -> list[tuple[Path, str, str]]:
    found = []
    for path in CITING:
        text = " ".join(path.read_text(encoding="utf-8").split())
        for page, section, quoted, quoted_page in DOCS_CITATION.findall(text):
            found.append((path, page or quoted_page, section or quoted))
    return found


def test_code_cites_the_docs_by_page_and_section() -> None:
    assert len(_docs_citations()) >= 5
    assert [p.relative_to(ROOT) for p in CITING if "README" in p.read_text(encoding="utf-8")] == []


@pytest.mark.parametrize(("path", "page", "section"), _docs_citations())
def test_a_cited_docs_section_exists(path: Path, page: str, section: str) -> None:
    headings = [line.lstrip("#").strip() for line in (ROOT / page).read_text(encoding="utf-8").splitlines()]
    assert section in headings, f"{path.relative_to(ROOT)} cites a section {page} does not have: {section!r}"

"""The command line's tables are tabulate's simple format, whatever the cells hold.

``probe.cli.output.table`` lays out plain ASCII cells itself (a long ``probe results`` spent most of its time in
tabulate's guess at each cell's type) and hands anything else to tabulate: either way the text is tabulate's.
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence

from tabulate import tabulate

from probe.cli.output import table

CELLS = (
    "",
    "True",
    "False",
    "1",
    "1.5",
    "-3",
    "1e5",
    "nan",
    "None",
    "1,000",
    "x y",
    "-",
    "--",
    "tcp: connection_reset",
    "blocked (dns:dns_nxdomain_error)",
    "2026-12-06T10:00:00Z",
    "https://example.kz/a?b=c&d=e",
    "  ",
    " leading",
    "trailing ",
    "Жаңаөзен",
    "中文字",
    "a\tb",
    "a\nb",
    "\x1b[31mred\x1b[0m",
    None,
    7,
    2.5,
)


def tabulated(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    text = tabulate(cells, headers=list(headers), tablefmt="simple", disable_numparse=True, stralign="left")
    return "\n".join(line.rstrip() for line in text.splitlines())


def random_cell(rng: random.Random) -> object:
    if rng.random() < 0.5:
        return rng.choice(CELLS)
    return "".join(rng.choice(string.printable[:95]) for _ in range(rng.randint(0, 12)))


def test_a_table_is_laid_out_as_tabulate_lays_it_out_whatever_its_cells_hold() -> None:
    rng = random.Random(24)
    for _ in range(3000):
        columns = rng.randint(1, 6)
        headers = [rng.choice(("id", "input", "verdict", "outcome", "a long header", "x")) for _ in range(columns)]
        rows = [[random_cell(rng) for _ in range(columns)] for _ in range(rng.randint(0, 6))]
        assert table(headers, rows) == tabulated(headers, rows), (headers, rows)


def test_a_listing_of_plain_cells_keeps_its_columns_and_drops_trailing_spaces() -> None:
    listed = table(("id", "input", "verdict"), [("m1", "https://a.kz/", "blocked (dns)"), ("m22", "b.kz:443", None)])
    assert listed.splitlines() == [
        "id    input          verdict",
        "----  -------------  -------------",
        "m1    https://a.kz/  blocked (dns)",
        "m22   b.kz:443",
    ]
    assert table(("id",), []) == "id\n----"

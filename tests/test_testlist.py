from pathlib import Path

import pytest

from probe.errors import TestListError
from probe.testlist import load_test_list, parse_test_list

ROOT = Path(__file__).resolve().parent.parent
SHARED_LISTS = ROOT.parent / "shared" / "data" / "test-lists"
HEADER = "url,category_code,category_description,date_added,source,notes\n"


def test_citizenlab_csv_rows_keep_their_category() -> None:
    result = parse_test_list(HEADER + "http://guljan.org/,NEWS,News Media,2014-04-15,citizenlab,\n")
    assert [(t.input, t.category_code) for t in result.targets] == [("http://guljan.org/", "NEWS")]
    assert result.problems == []


def test_malformed_rows_are_reported_with_line_number_and_skipped() -> None:
    text = (
        HEADER
        + "http://ok.example/,NEWS,News,2020-01-01,x,\n"
        + "not a url,NEWS,News,2020-01-01,x,\n"
        + "http://short.example/,NEWS\n"
        + "ftp://files.example/,FILE,File,2020-01-01,x,\n"
        + 'https://also-ok.example/path,GRP,Social,2020-01-01,x,"a, quoted note"\n'
    )
    result = parse_test_list(text)
    assert [t.input for t in result.targets] == ["http://ok.example/", "https://also-ok.example/path"]
    assert [p.line for p in result.problems] == [3, 4, 5]
    assert "expected 6 columns" in str(result.problems[1])


def test_nul_byte_row_is_a_problem_not_a_crash() -> None:
    result = parse_test_list(HEADER + "http://a.example/,N,N,d,s,\x00\nhttp://b.example/,N,N,d,s,\n")
    assert "http://b.example/" in [t.input for t in result.targets]


def test_plain_text_list_skips_comments_and_reports_bad_lines() -> None:
    result = parse_test_list("# my list\nhttps://twitter.com/\n\nguljan.org\nhttp://ridus.ru/\n")
    assert [t.input for t in result.targets] == ["https://twitter.com/", "http://ridus.ru/"]
    assert [p.line for p in result.problems] == [4]


def test_shipped_kz_2011_list_parses_cleanly_and_holds_the_2011_targets() -> None:
    result = load_test_list(ROOT / "configs" / "lists" / "kz-2011.csv")
    inputs = " ".join(t.input for t in result.targets)
    assert result.problems == []
    for name in ("twitter.com", "guljan.org", "ridus.ru", "respublika", "socialismkz", "facebook.com"):
        assert name in inputs


@pytest.mark.skipif(not SHARED_LISTS.exists(), reason="../shared/data/test-lists is not beside the project")
@pytest.mark.parametrize("name", ["kz.csv", "global.csv", "ru.csv"])
def test_real_citizenlab_lists_parse(name: str) -> None:
    result = load_test_list(SHARED_LISTS / name)
    assert len(result.targets) > 400
    assert len(result.problems) < len(result.targets) / 100


def test_unreadable_list_raises_test_list_error(tmp_path: Path) -> None:
    with pytest.raises(TestListError):
        load_test_list(tmp_path / "missing.csv")


def test_header_only_csv_has_no_targets_and_no_problems() -> None:
    result = parse_test_list(HEADER)
    assert (result.targets, result.problems) == ([], [])


def test_list_of_host_names_is_checked_by_the_chosen_experiment() -> None:
    from probe.experiments import get_experiment

    result = parse_test_list("guljan.org\nbad..name\nridus.ru\n", check=get_experiment("dns").check_input)
    assert [t.input for t in result.targets] == ["guljan.org", "ridus.ru"]
    assert [p.line for p in result.problems] == [2]

"""``probe lists update``: Citizen Lab's lists from a loopback server into <data_dir>/lists/, the last good copy
kept when a download fails, is malformed, cut short or suddenly shrunk, and ``probe run`` measuring the shipped list
plus the cached ones."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from support.servers import Handler, http_server, page, raw

from probe.cli.main import cli
from probe.config import Config
from probe.listcache import cached_lists, update, update_one
from probe.storage import open_database

HEADER = "url,category_code,category_description,date_added,source,notes\n"
GLOBAL_CSV = HEADER + "https://twitter.com/,GRP,Social Networking,2014-04-15,citizenlab,\n"
KZ_CSV = HEADER + (
    "http://guljan.org/,NEWS,News Media,2011-12-20,field,\nhttps://ridus.ru/,NEWS,News Media,2011-12-20,field,\n"
)


def csv_page(text: str) -> Handler:
    return page(text, content_type="text/csv")


def config_for(tmp_path: Path, source: str) -> Config:
    return Config.model_validate({"probe": {"data_dir": str(tmp_path)}, "lists": {"source": source, "timeout": 5}})


def test_the_global_and_country_lists_are_cached_with_source_date_and_licence(tmp_path: Path) -> None:
    with http_server({"/lists/global.csv": csv_page(GLOBAL_CSV), "/lists/kz.csv": csv_page(KZ_CSV)}) as web:
        config = config_for(tmp_path, web.url("/lists/"))
        results = update(config, "KZ")
    assert [(r.name, r.updated) for r in results] == [("global", True), ("kz", True)]
    assert (tmp_path / "lists" / "kz.csv").read_text(encoding="utf-8") == KZ_CSV
    record = json.loads((tmp_path / "lists" / "kz.json").read_text(encoding="utf-8"))
    assert record["source"] == web.url("/lists/kz.csv") and record["urls"] == 2
    assert "Citizen Lab" in record["licence"] and record["fetched_at"].startswith("20")
    assert [p.name for p in cached_lists(config)] == ["global.csv", "kz.csv"]


def test_a_failed_or_malformed_download_keeps_the_last_good_copy(tmp_path: Path) -> None:
    with http_server({"/lists/global.csv": csv_page(GLOBAL_CSV), "/lists/kz.csv": csv_page(KZ_CSV)}) as good:
        update(config_for(tmp_path, good.url("/lists/")), "KZ")
    before = (tmp_path / "lists" / "kz.json").read_text(encoding="utf-8")
    broken = {
        "/html/global.csv": page("<html>rate limited</html>"),
        "/html/kz.csv": csv_page("url,category_code\nnot a url,NEWS\nftp://x/,NEWS\n"),
        "/cut/global.csv": raw(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\nurl,cat"),
    }
    with http_server(broken) as bad:
        for source in (bad.url("/html/"), bad.url("/cut/"), bad.url("/missing/")):
            results = update(config_for(tmp_path, source), "KZ")
            assert [r.updated for r in results] == [False, False], source
            assert all(r.url in r.detail for r in results)
    assert (tmp_path / "lists" / "kz.csv").read_text(encoding="utf-8") == KZ_CSV
    assert (tmp_path / "lists" / "global.csv").read_text(encoding="utf-8") == GLOBAL_CSV
    assert (tmp_path / "lists" / "kz.json").read_text(encoding="utf-8") == before
    assert not list((tmp_path / "lists").glob("*.partial"))


def country_list(count: int) -> str:
    """A list of ``count`` rows in Citizen Lab's six columns."""
    rows = (
        f"http://site{i}.guljan.test/news/{i},NEWS,News Media,2011-12-20,field,kept since 2011\n" for i in range(count)
    )
    return HEADER + "".join(rows)


def good_copy(tmp_path: Path, text: str) -> str:
    """Cache ``text`` as the kz list's last good copy; its record as written."""
    with http_server({"/lists/kz.csv": csv_page(text)}) as web:
        assert update_one(config_for(tmp_path, web.url("/lists/")), "KZ").updated
    return (tmp_path / "lists" / "kz.json").read_text(encoding="utf-8")


def kept(tmp_path: Path, text: str, record: str, served: str) -> str:
    """Serve ``served`` as the kz list (a complete HTTP answer); assert the last good copy stayed; the reason."""
    with http_server({"/lists/kz.csv": csv_page(served)}) as web:
        result = update_one(config_for(tmp_path, web.url("/lists/")), "KZ")
    assert not result.updated and "kept the last good copy" in str(result)
    assert (tmp_path / "lists" / "kz.csv").read_text(encoding="utf-8") == text
    assert (tmp_path / "lists" / "kz.json").read_text(encoding="utf-8") == record
    assert not list((tmp_path / "lists").glob("*.partial"))
    return result.detail


def test_a_list_cut_in_the_middle_of_a_row_keeps_the_last_good_copy(tmp_path: Path) -> None:
    text = country_list(553)
    record = good_copy(tmp_path, text)
    half = len(text) // 2 + (5 if text[len(text) // 2 - 1] == "\n" else 0)  # inside a row
    middle_cell = text.index(",", half)
    # Half the bytes; a row cut between two cells; a row cut between two cells with a line end after it.
    for cut in (text[:half], text[:middle_cell], text[:middle_cell] + "\n"):
        detail = kept(tmp_path, text, record, cut)
        assert "its last row is cut" in detail and "a download cut short" in detail, detail


def test_rows_that_lose_the_headers_columns_keep_the_last_good_copy(tmp_path: Path) -> None:
    text = country_list(30)
    record = good_copy(tmp_path, text)
    lines = text.splitlines(keepends=True)
    lines[10] = "http://site9.guljan.test/news/9,NEWS\n"
    detail = kept(tmp_path, text, record, "".join(lines))
    assert "row 11 has 2 columns where the header has 6" in detail


def test_a_list_that_shrinks_by_more_than_a_third_keeps_the_last_good_copy_unless_asked(tmp_path: Path) -> None:
    text = country_list(553)
    record = good_copy(tmp_path, text)
    shorter = country_list(355)  # whole rows: only the count gives it away
    detail = kept(tmp_path, text, record, shorter)
    assert "355 URLs where the last good copy has 553" in detail and "--allow-shrink" in detail
    with http_server({"/lists/kz.csv": csv_page(shorter)}) as web:
        taken = update_one(config_for(tmp_path, web.url("/lists/")), "KZ", allow_shrink=True)
    assert taken.updated and (tmp_path / "lists" / "kz.csv").read_text(encoding="utf-8") == shorter
    with http_server({"/lists/kz.csv": csv_page(country_list(237))}) as web:
        assert update_one(config_for(tmp_path, web.url("/lists/")), "KZ").updated  # a third less: an update


def test_the_command_takes_a_shrunk_list_when_asked(tmp_path: Path) -> None:
    good_copy(tmp_path, country_list(90))
    with http_server({"/l/global.csv": csv_page(GLOBAL_CSV), "/l/kz.csv": csv_page(country_list(10))}) as web:
        config = tmp_path / "probe.toml"
        config.write_text(f'[probe]\ndata_dir = "{tmp_path}"\n[lists]\nsource = "{web.url("/l/")}"\n', encoding="utf-8")
        refused = CliRunner().invoke(cli, ["lists", "update", "--config", str(config), "--cc", "KZ"])
        taken = CliRunner().invoke(cli, ["lists", "update", "--config", str(config), "--cc", "KZ", "--allow-shrink"])
    assert refused.exit_code == 1 and "kz: kept the last good copy" in refused.output and "shrank" in refused.output
    assert taken.exit_code == 0 and "kz: updated (10 URLs" in taken.output


def test_the_command_says_what_it_kept_and_exits_1(tmp_path: Path) -> None:
    with http_server({"/l/global.csv": csv_page(GLOBAL_CSV)}) as web:
        config = tmp_path / "probe.toml"
        config.write_text(f'[probe]\ndata_dir = "{tmp_path}"\n[lists]\nsource = "{web.url("/l/")}"\n', encoding="utf-8")
        result = CliRunner().invoke(cli, ["lists", "update", "--config", str(config), "--cc", "KZ"])
    assert result.exit_code == 1
    assert "global: updated (1 URLs" in result.output and "kz: kept the last good copy" in result.output


def test_probe_run_measures_the_shipped_list_plus_the_cached_ones(tmp_path: Path) -> None:
    lists = tmp_path / "data" / "lists"
    lists.mkdir(parents=True)
    (lists / "kz.csv").write_text(HEADER + "http://127.0.0.1:9/cached,NEWS,News,2026-01-01,t,\n", encoding="utf-8")
    (lists / "kz.json").write_text("{}", encoding="utf-8")
    shipped = tmp_path / "kz-2011.csv"
    shipped.write_text(HEADER + "http://127.0.0.1:9/shipped,NEWS,News,2011-12-16,t,\n", encoding="utf-8")
    config = tmp_path / "probe.toml"
    config.write_text(
        f'[probe]\ndata_dir = "{tmp_path / "data"}"\ntest_list = "{shipped}"\n[tcp]\ntimeout = 1.0\n', encoding="utf-8"
    )
    result = CliRunner().invoke(cli, ["run", "--accept", "--config", str(config)])
    assert result.exit_code == 0, result.output
    db = open_database(tmp_path / "data" / "probe.db")
    try:
        measured = sorted(row["input"] for row in db.measurement_rows())
        (run,) = db.runs()
    finally:
        db.close()
    assert measured == ["http://127.0.0.1:9/cached", "http://127.0.0.1:9/shipped"]
    assert str(shipped) in run["test_list"] and "kz.csv" in run["test_list"]

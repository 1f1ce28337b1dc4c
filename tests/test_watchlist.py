"""Watchlist import and matching, name keys, and the allowlist of legitimate services."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from bot.cli import cli
from db.connection import connect
from db.migrations import MIGRATIONS, migrate, schema_version
from db.reports import SqlStore
from db.watchlist import import_entries, watchlist_match, watchlist_names
from handlers.store import NewReport
from tests.conftest import ROOT
from triage.allowlist import allowlisted_domains, is_allowlisted
from triage.extract import extract
from triage.normalise import match_key, pinyin_key
from triage.watchlist import WatchlistError, parse_csv

EXAMPLE = ROOT / "docs" / "watchlist.example.csv"
# Checksum-valid addresses made by tests/corpus/make_wallets.py (seed 7).
EVM = "0xcb218617B5451BD2d9aafDa3fEdaff19e594eee2"
EVM_BAD = "0xCb218617B5451BD2d9aafDa3fEdaff19e594eee2"  # one letter's case: EIP-55 fails
TRON = "TUVGLGuHvQr6M3Y3JgjytmEVVWiycrK2RD"
BTC_BECH32 = "bc1qevscv9a4g5da9kd2lk3lakhlr8jefmhz0xa5rk"
BTC_LEGACY = "1KX4LDXZmgj9BsUQiR6GNcYMaiyfUqA1eY"
HEADER = "name,aliases,domains,addresses\n"


def import_csv(db_path: Path, text: str | bytes) -> tuple[int, str]:
    """Run `tipline --db DB watchlist import -` with the CSV on stdin; return (code, output)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    result = CliRunner().invoke(cli, ["--db", str(db_path), "watchlist", "import", "-"],
                                input=data)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    database = connect(tmp_path / "tipline.db")
    migrate(database)
    return database


def file_report(db: sqlite_utils.Database, who: str) -> None:
    """File a report the way the conversation does, identifiers extracted from `who`."""
    ids = tuple((i.kind, i.value, i.raw) for i in extract(who))
    db.execute("BEGIN IMMEDIATE")
    SqlStore(db).file_report(NewReport(
        receipt="ABCDE12345", reporter="p_reporter", draft_id="d1", target_type="exchange",
        who=who, description="让我充值USDT，提不了现", identifiers=ids, lang="zh",
        filed_at=1_700_000_000,
    ))
    db.execute("COMMIT")


# ------------------------------------------------------------------- user stories


def test_an_admin_imports_the_watchlist_and_a_report_naming_huobi_in_chinese_matches(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "tipline.db"
    code, output = import_csv(db_path, EXAMPLE.read_bytes())
    assert code == 0, output
    assert "8 entries imported (8 new, 0 replaced)" in output

    db = connect(db_path)
    file_report(db, "平台名称：火幣網，还有个网站 https://www.okx.com/zh-hans/join")
    matches = {
        (kind, value): watchlist_match(db, kind, value)
        for kind, value in db.execute("SELECT kind, value FROM report_identifiers")
    }
    assert matches == {
        ("name", "火幣網"): "Huobi",  # traditional, with 网: same key as the alias 火币
        ("url", "https://www.okx.com/zh-hans/join"): "OKX",
        ("domain", "okx.com"): "OKX",
    }


def test_names_match_by_pinyin_and_by_folded_spelling(db: sqlite_utils.Database) -> None:
    import_entries(db, parse_csv((HEADER + "Huobi,HTX,huobi.com,\n").encode()), now=1)
    assert watchlist_match(db, "name", "火币") == "Huobi"  # pinyin huobi = the name Huobi
    assert watchlist_match(db, "name", "ＨＵＯＢＩ Global") == "Huobi"
    assert watchlist_match(db, "name", "htx交易所") == "Huobi"
    assert watchlist_match(db, "name", "火星") is None
    assert watchlist_match(db, "domain", "huobi.com") == "Huobi"
    assert watchlist_match(db, "domain", "huobi-vip.com") is None  # look-alikes: similar.py
    assert watchlist_match(db, "phone", "+8613912345678") is None


def test_addresses_match_in_the_extractors_form(db: sqlite_utils.Database) -> None:
    row = f"ScamX,,,{EVM};{TRON};{BTC_BECH32.upper()};{BTC_LEGACY}\n"
    import_entries(db, parse_csv((HEADER + row).encode()), now=1)
    found = {(i.kind, i.value) for i in extract(f"转到 {EVM.lower()} 或 {TRON}，{BTC_BECH32}")}
    assert {watchlist_match(db, kind, value) for kind, value in found} == {"ScamX"}
    assert watchlist_match(db, "btc", BTC_LEGACY) == "ScamX"
    assert watchlist_match(db, "tron", TRON.lower()) is None  # base58 is case-sensitive


def test_a_reimport_replaces_the_aliases_of_that_entry_only(tmp_path: Path) -> None:
    db_path = tmp_path / "tipline.db"
    first = HEADER + "Huobi,火币;HTX,huobi.com;htx.com,\nOKX,欧易,okx.com,\n"
    assert import_csv(db_path, first)[0] == 0
    code, output = import_csv(db_path, HEADER + "Huobi,火币,huobi.com,\n")
    assert code == 0 and "1 entries imported (0 new, 1 replaced)" in output
    db = connect(db_path)
    assert watchlist_match(db, "name", "HTX") is None
    assert watchlist_match(db, "domain", "htx.com") is None
    assert watchlist_match(db, "name", "火币") == "Huobi"
    assert watchlist_match(db, "name", "欧易") == "OKX"  # not in the second file: kept
    assert watchlist_names(db) == ["Huobi", "OKX"]


def test_a_csv_with_a_bad_address_names_the_line_and_stores_nothing(tmp_path: Path) -> None:
    db_path = tmp_path / "tipline.db"
    text = HEADER + f"Huobi,火币,huobi.com,{EVM}\nScamX,,scamx.vip,{EVM_BAD}\n"
    code, output = import_csv(db_path, text)
    assert code == 1
    assert output.strip().splitlines() == [
        f"Error: -: line 3: '{EVM_BAD}' is not a valid BTC, EVM or TRON address "
        "(wrong length, characters or checksum)"
    ]
    assert "Traceback" not in output
    assert not db_path.exists() or watchlist_names(connect(db_path)) == []


@pytest.mark.parametrize(("text", "message"), [
    ("name,aliases,domains\nHuobi,,huobi.com\n", "line 1: missing column(s) addresses"),
    ("", "the file is empty"),
    (HEADER + "Huobi,,huobi..com,\n", "line 2: 'huobi..com' is not a domain name"),
    (HEADER + "Huobi,,localhost,\n", "line 2: 'localhost' is not a domain name"),
    (HEADER + "Huobi,,,\n\nHuobi,,huobi.com,\n", "line 4: 'Huobi' is already on line 2"),
    (HEADER + ",火币,huobi.com,\n", "line 2: the name is empty"),
    (HEADER + "Huobi,X,,\n", "line 2: name 'X' is too short"),
    (HEADER + "WeChat scam,,weixin.qq.com,\n", "line 2: qq.com is on the allowlist"),
    (HEADER.encode() + "火币,,,\n".encode("gb18030"), "line 2: not UTF-8"),
])
def test_a_bad_csv_is_one_line_naming_the_problem(
    tmp_path: Path, text: str | bytes, message: str
) -> None:
    code, output = import_csv(tmp_path / "tipline.db", text)
    assert code == 1
    assert len(output.strip().splitlines()) == 1 and message in output, output


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "t.db"), "watchlist", "import", str(tmp_path / "no.csv")]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: cannot read {tmp_path / 'no.csv'}: No such file or directory"
    ]


def test_a_spreadsheet_export_with_bom_crlf_extra_columns_and_fullwidth_separators(
    db: sqlite_utils.Database,
) -> None:
    text = "\ufeffName,Aliases,Domains,Addresses,Notes\r\n币安,Binance；BN,https://www.binance.com/zh-CN,,监管名单\r\n"
    [entry] = parse_csv(text.encode("utf-8"))
    assert entry.name == "币安" and entry.line == 2
    assert ("domain", "binance.com") in entry.terms and ("name", "bn") in entry.terms


def test_the_cli_imports_the_example_file_in_a_real_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "TIPLINE_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--db", str(tmp_path / "t.db"), "watchlist", "import",
         str(EXAMPLE)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # messages go to stderr
    assert result.stderr.strip() == (
        "watchlist: 8 entries imported (8 new, 0 replaced): 17 names, 10 domains, 0 addresses"
    )
    assert watchlist_match(connect(tmp_path / "t.db"), "name", "芝麻開門") == "Gate.io"


# ------------------------------------------------------------------- storage


def test_migration_3_adds_the_watchlist_and_matching_uses_the_index(
    db: sqlite_utils.Database,
) -> None:
    assert schema_version(db) == len(MIGRATIONS) >= 3
    plan = " ".join(str(row[-1]) for row in db.execute(
        "EXPLAIN QUERY PLAN SELECT w.name FROM watchlist_terms AS t JOIN watchlist AS w "
        "ON w.id = t.watchlist_id WHERE t.kind = 'name' AND t.value = 'huobi' "
        "ORDER BY w.name LIMIT 1"
    ))
    assert "SEARCH t USING PRIMARY KEY (kind=? AND value=?)" in plan, plan


def test_deleting_an_entry_deletes_its_terms(db: sqlite_utils.Database) -> None:
    import_entries(db, parse_csv((HEADER + "Huobi,火币,huobi.com,\n").encode()), now=1)
    db.execute("DELETE FROM watchlist WHERE name = 'Huobi'")
    assert db.execute("SELECT count(*) FROM watchlist_terms").fetchone()[0] == 0


# ------------------------------------------------------------------- normalisation


@pytest.mark.parametrize("spelling", [
    "火币", "火幣", "火币网", "火幣網", "「火币Pro」", "火币 全球站", "火币国际交易所", "火币APP",
])
def test_spellings_of_huobi_share_one_match_key(spelling: str) -> None:
    assert match_key(spelling) == "火币"
    assert pinyin_key(spelling) == "huobi"


@pytest.mark.parametrize(("name", "key"), [
    ("Huobi Global", "huobi"), ("ＨＵＯＢＩ", "huobi"), ("Gate.io", "gateio"),
    ("CoinPro", "coinpro"),  # only a separate word "Pro" is generic
    ("币网", "币网"),  # never cut below two characters
    ("交易所", "交易所"), ("BitKing交易所", "bitking"), ("OKX欧易", "okx欧易"),
])
def test_match_keys_drop_only_generic_endings(name: str, key: str) -> None:
    assert match_key(name) == key


# ------------------------------------------------------------------- allowlist


def test_qq_com_and_other_legitimate_services_are_allowlisted() -> None:
    assert is_allowlisted("domain", "qq.com")
    assert is_allowlisted("domain", "weixin.qq.com")  # any host under the domain
    assert is_allowlisted("domain", "alipay.com") and is_allowlisted("domain", "icbc.com.cn")
    assert is_allowlisted("domain", "apple.com")
    assert not is_allowlisted("domain", "huobi-vip.com")
    assert not is_allowlisted("domain", "qq.com.huobi-vip.com")
    # A URL or account on qq.com names something specific: an article, an account.
    assert not is_allowlisted("url", "https://mp.weixin.qq.com/s?__biz=MzA5&mid=1")
    assert not is_allowlisted("wechat_id", "qq.com")


def test_the_allowlist_is_packaged_and_every_entry_is_a_registrable_domain() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "allowlist.txt" in pyproject["tool"]["setuptools"]["package-data"]["triage"]
    assert len(allowlisted_domains()) > 50
    for domain in allowlisted_domains():
        [found] = [i.value for i in extract(f"https://www.{domain}/") if i.kind == "domain"]
        assert found == domain  # else it could never match an extracted domain


def test_parse_errors_are_watchlist_errors() -> None:
    with pytest.raises(WatchlistError, match="line 2"):
        parse_csv((HEADER + f"ScamX,,,{TRON[:-1]}\n").encode())


# ------------------------------------------------------------------- list (issue 19, item 12)


def tipline(*args: str, stdin: str = "", columns: int = 80) -> subprocess.CompletedProcess[str]:
    """`tipline ARGS` in a real process, on a terminal-like 80 columns when one is asked."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "TIPLINE_"))}
    return subprocess.run([sys.executable, "-m", "bot", *args], env={**env, "COLUMNS":
                          str(columns)}, input=stdin, capture_output=True, text=True,
                          timeout=60)


def test_an_admin_lists_the_watchlist_whole_and_it_imports_back(tmp_path: Path) -> None:
    db_path = tmp_path / "t.db"
    text = (HEADER + "Huobi,火币;火币网;HTX;Huobi Global,https://www.Huobi.com/zh;htx.com,"
            f"{EVM};{TRON}\nScamX,,scamx-exchange-official-site.vip,{BTC_BECH32}\n"
            "Binance,币安,,\n")
    assert import_csv(db_path, text)[0] == 0

    shown = tipline("--db", str(db_path), "watchlist", "list")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["name", "aliases", "domains", "addresses"]
    assert [line.split()[0] for line in lines[1:] if not line.startswith(" ")] == [
        "Binance", "Huobi", "ScamX"]
    # Nothing cut at 80 columns: every alias, domain and address whole, one a line.
    for whole in ("Huobi Global", "火币网", "huobi.com", "htx.com", EVM.lower(), TRON,
                  "scamx-exchange-official-site.vip", BTC_BECH32):
        assert whole in shown.stdout, whole
    assert "…" not in shown.stdout
    assert shown.stderr == ""

    as_json = tipline("--db", str(db_path), "watchlist", "list", "--format", "json")
    assert json.loads(as_json.stdout)[1] == {
        "name": "Huobi", "aliases": ["火币", "火币网", "HTX", "Huobi Global"],
        "domains": ["htx.com", "huobi.com"], "addresses": [EVM.lower(), TRON]}

    as_csv = tipline("--db", str(db_path), "watchlist", "list", "--format", "csv")
    assert as_csv.stdout.splitlines()[:2] == [
        "\ufeffname,aliases,domains,addresses", "Binance,币安,,"]
    other = tmp_path / "other.db"
    again = tipline("--db", str(other), "watchlist", "import", "-", stdin=as_csv.stdout)
    assert again.returncode == 0, again.stderr
    terms = "SELECT w.name, t.kind, t.value FROM watchlist_terms AS t JOIN watchlist AS w " \
            "ON w.id = t.watchlist_id ORDER BY 1, 2, 3"
    assert list(connect(other).execute(terms)) == list(connect(db_path).execute(terms))
    assert tipline("--db", str(other), "watchlist", "list").stdout == shown.stdout


def test_an_entry_imported_before_the_listing_existed_lists_its_alias_keys(
    db: sqlite_utils.Database,
) -> None:
    from db.watchlist import list_entries

    [entry] = parse_csv((HEADER + "Huobi,火币;HTX,huobi.com,\n").encode())
    import_entries(db, [entry], 1)
    db.execute("UPDATE watchlist SET aliases = NULL")  # as an entry imported before is
    [listed] = list_entries(db)
    assert (listed.name, listed.aliases, listed.domains) == ("Huobi", ["htx", "火币"],
                                                            ["huobi.com"])


def test_aliases_as_written_are_kept_beside_the_entry_never_among_its_match_terms(
    db: sqlite_utils.Database,
) -> None:
    [entry] = parse_csv((HEADER + "Huobi,火币;Huobi Global,huobi.com,\n").encode())
    import_entries(db, [entry], 1)
    assert db.execute("SELECT aliases FROM watchlist").fetchall() == [
        ('["火币", "Huobi Global"]',)]
    assert {kind for (kind,) in db.execute("SELECT kind FROM watchlist_terms")} == {
        "name", "pinyin", "domain"}


def test_an_empty_watchlist_lists_as_nothing(tmp_path: Path) -> None:
    db_path = tmp_path / "t.db"
    assert import_csv(db_path, HEADER)[0] == 0
    shown = tipline("--db", str(db_path), "watchlist", "list")
    assert (shown.returncode, shown.stdout, shown.stderr) == (0, "", "watchlist: empty\n")
    shown = tipline("--db", str(db_path), "watchlist", "list", "--format", "json")
    assert json.loads(shown.stdout) == []


def test_terminal_escapes_in_a_watchlist_entry_are_listed_inert(tmp_path: Path) -> None:
    """Regression (review): watchlist list printed escape sequences raw."""
    db_path = tmp_path / "t.db"
    assert import_csv(db_path, HEADER + "Huobi\x1b]0;pwned\x07,\x1b[2J火币网,,\n")[0] == 0
    shown = tipline("--db", str(db_path), "watchlist", "list")
    assert shown.returncode == 0, shown.stderr
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
    assert "Huobi\\x1b]0;pwned\\x07" in shown.stdout and "\\x1b[2J火币网" in shown.stdout

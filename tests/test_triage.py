"""`tipline triage`: what is new, what is big, what is possibly the same platform."""

from __future__ import annotations

import contextlib
import json
import random
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from db import entities as entity_index
from db import pace
from db.cases import load_case
from db.connection import connect
from db.summary import SqlSummary
from db.watchlist import import_entries, watchlist_match
from tests.conftest import ROOT
from tests.desk import DAY, Desk, tipline
from tests.test_cli import run
from triage import score as scoring
from triage import summary as summary_module
from triage.allowlist import is_allowlisted
from triage.extract import extract
from triage.summary import Filters, Totals, shown_score, summarise
from triage.watchlist import lookup_terms, parse_csv

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00")
RECEIPT = re.compile(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}")
WATCHLIST = "name,aliases,domains,addresses\nHuobi,火币;HTX,huobi.com,\n"


def triage_json(desk: Desk, *args: str) -> dict[str, Any]:
    result = tipline(desk.path, "triage", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def entities(report: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    return [(e["kind"], e["value"], e["reports"], e["reporters"]) for e in report["entities"]]


def file_a_busy_week(desk: Desk) -> dict[str, str]:
    """Three people report one exchange (one of them twice); other tips around it."""
    receipts = {
        "first": desk.file("网址 https://www.huobi-vip.cc/reg", reporter="p_ann", days_ago=3),
        "again": desk.file("还是 huobi-vip.cc", reporter="p_ann", days_ago=2),
        "bob": desk.file("huobi-vip.cc 让我充值", reporter="p_bob", days_ago=1),
        "cat": desk.file("www.huobi-vip.cc 客服微信：coinvip888", reporter="p_cat",
                         target_type="wechat_account"),
        "phone": desk.file("收款支付宝 13800138000", reporter="p_dan", target_type="payment"),
        "old": desk.file("okx-lucky.top", reporter="p_eve", days_ago=200),
        "bank": desk.file("转到 https://www.icbc.com.cn/pay", reporter="p_fay"),
    }
    for n in range(4):  # an old platform many people reported, long quiet
        desk.file("okx-lucky.top", reporter=f"p_old{n}", days_ago=200 + n)
    return receipts


# ------------------------------------------------------------------- the investigator's story


def test_an_investigator_sees_totals_and_entities_ranked_by_distinct_reporters(
    desk: Desk,
) -> None:
    receipts = file_a_busy_week(desk)
    report = triage_json(desk, "--by", "ann")

    assert ISO.fullmatch(report["generated_at"])
    assert report["totals"] == {
        "reports": 11, "reporters": 10,
        "by_status": {"new": 11, "reviewing": 0, "escalated": 0, "dismissed": 0, "closed": 0},
        "by_target_type": {"exchange": 9, "ico": 0, "wechat_account": 1, "payment": 1,
                           "app": 0, "other": 0},
    }
    ranked = entities(report)
    # Four reports of huobi-vip.cc from three people: ann's second report adds no voice.
    assert ranked[0] == ("domain", "huobi-vip.cc", 4, 3)
    assert ("domain", "okx-lucky.top", 5, 5) in ranked  # more people, but 200 days ago
    assert ranked.index(("domain", "okx-lucky.top", 5, 5)) > ranked.index(
        ("phone", "+8613800138000", 1, 1))
    assert all(not is_allowlisted(kind, value) for kind, value, _, _ in ranked)
    assert not any(value == "icbc.com.cn" for _, value, _, _ in ranked)  # a bank, left out

    top = report["entities"][0]
    assert top["receipts"] == [receipts["cat"], receipts["bob"], receipts["again"],
                               receipts["first"]]  # newest first, shown as XXXXX-XXXXX
    assert ISO.fullmatch(top["first_seen"]) and ISO.fullmatch(top["last_seen"])
    assert top["watchlist"] is None
    scores = [e["score"] for e in report["entities"]]
    assert scores == sorted(scores, reverse=True)
    assert report["new_since"] == {"by": "ann", "view": "json", "last_run": None,
                                   "reports": None, "entities": 0}


def test_the_second_run_says_what_arrived_since_the_first(desk: Desk) -> None:
    file_a_busy_week(desk)
    first = triage_json(desk, "--by", "ann")
    (last_run,) = desk.rows(
        "SELECT last_run_at FROM triage_runs WHERE investigator = 'ann (json)'")[0]
    desk.file("新平台 coin-new.vip", reporter="p_new", at=last_run + 60)

    second = triage_json(desk, "--by", "ann")
    assert second["new_since"]["last_run"] == first["generated_at"]
    assert second["new_since"]["reports"] == 1
    new = [e["value"] for e in second["entities"] if e["new"]]
    assert new == ["coin-new.vip"]
    # Another investigator has never run triage: nothing is "new" to compare with.
    assert triage_json(desk, "--by", "bob")["new_since"]["reports"] is None


def test_since_status_kind_and_top_narrow_the_summary(desk: Desk) -> None:
    receipts = file_a_busy_week(desk)
    assert tipline(desk.path, "case", receipts["bob"], "--status", "reviewing").exit_code == 0

    recent = triage_json(desk, "--since", iso_days_ago(desk, 30))
    assert recent["totals"]["reports"] == 6
    assert "okx-lucky.top" not in [v for _, v, _, _ in entities(recent)]
    assert recent["filters"]["since"].endswith("+08:00")

    reviewing = triage_json(desk, "--status", "reviewing")
    assert reviewing["totals"]["by_status"]["reviewing"] == 1
    assert entities(reviewing) == [("domain", "huobi-vip.cc", 1, 1)]

    both = triage_json(desk, "--status", "NEW", "--status", "reviewing", "--kind", "domain")
    assert {kind for kind, _, _, _ in entities(both)} == {"domain"}
    assert entities(both)[0] == ("domain", "huobi-vip.cc", 4, 3)

    phones = triage_json(desk, "--kind", "phone", "--top", "1")
    assert entities(phones) == [("phone", "+8613800138000", 1, 1)]


def test_a_watchlist_match_is_shown_and_lifts_the_score(desk: Desk) -> None:
    import_entries(desk.db, parse_csv(WATCHLIST.encode()), desk.now)
    desk.file("平台名称：火幣網", reporter="p_ann")  # traditional, with 网: the key 火币
    desk.file("平台名称：星链", reporter="p_bob")  # the same in every way but the watchlist

    report = triage_json(desk)
    by_value = {e["value"]: e for e in report["entities"]}
    assert by_value["火币"]["watchlist"] == "Huobi"
    assert by_value["星链"]["watchlist"] is None
    assert by_value["火币"]["score"] == pytest.approx(
        by_value["星链"]["score"] * scoring.WATCHLIST_BONUS, rel=1e-3)
    assert report["entities"][0]["value"] == "火币"


def test_possibly_the_same_platform_is_suggested_never_merged(desk: Desk) -> None:
    desk.file("平台名称：火币", reporter="p_ann")
    desk.file("https://huobi-vip.cc/register", reporter="p_bob")

    report = triage_json(desk)
    pairs = [({s["a"]["value"], s["b"]["value"]}, s["score"], s["why"])
             for s in report["suggestions"]]
    assert ({"火币", "huobi-vip.cc"}, 90.0, "huobi inside huobi vip") in pairs
    assert {"火币", "huobi-vip.cc"} <= {e["value"] for e in report["entities"]}


def test_the_table_is_for_the_terminal_with_chinese_names_aligned(desk: Desk) -> None:
    import_entries(desk.db, parse_csv(WATCHLIST.encode()), desk.now)
    receipt = desk.file("平台名称：火币 网址 huobi-vip.cc", reporter="p_ann")

    result = tipline(desk.path, "triage")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "1 report from 1 reporter; your first run" in result.stdout
    header = next(line for line in lines if "reporters" in line and "score" in line)
    name_line = next(line for line in lines if "火币" in line)
    domain_line = next(line for line in lines if "huobi-vip.cc" in line and "domain" in line)
    assert "Huobi" in name_line and receipt in name_line
    # Columns line up in display cells, where each Chinese character takes two.
    from rich.cells import cell_len

    def column(line: str, text: str) -> int:
        return cell_len(line[: line.index(text)])

    assert column(name_line, "Huobi") == column(header, "watchlist")
    assert column(name_line, receipt) == column(domain_line, receipt) == column(header,
                                                                                "receipts")
    assert "Possibly the same" in result.stdout


def test_markdown_and_html_escape_what_reporters_and_lists_supply(desk: Desk) -> None:
    evil = 'Evil<script>alert(1)</script>|*x*'
    import_entries(desk.db, parse_csv(
        f'name,aliases,domains,addresses\n"{evil}",,evil-exchange.cc,\n'.encode()), desk.now)
    desk.file("https://evil-exchange.cc/a", reporter="p_ann")
    desk.file("平台名称：火币", reporter="p_bob", days_ago=3)

    markdown = tipline(desk.path, "triage", "--format", "markdown").stdout
    row = next(line for line in markdown.splitlines() if "evil-exchange.cc" in line)
    assert row.count(" | ") == 9  # ten cells: the pipe in the name is escaped
    assert r"Evil\<script\>alert(1)\</script\>\|\*x\*" in row

    out = desk.path.parent / "briefing.html"
    result = tipline(desk.path, "triage", "--format", "html", "--output", str(out))
    assert result.exit_code == 0 and "wrote" in result.stderr
    page = out.read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<svg" in page and "<rect" in page  # reports per day, drawn inline
    assert "火币" in page and page.startswith("<!DOCTYPE html>")
    # Self-contained: no stylesheet, script, image, font or link to fetch; the URL a
    # reporter named is text.
    for external in ("<link", "<script", "src=", "href=", "url(", "@import"):
        assert external not in page
    assert "<li>https://evil-exchange.cc/a</li>" in page  # under its domain


def test_triage_runs_as_a_process_and_prints_json(desk: Desk, tmp_path: Path) -> None:
    file_a_busy_week(desk)
    result = run(["triage", "--format", "json", "--top", "2"], {"TIPLINE_DB": str(desk.path)},
                 tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [e["value"] for e in report["entities"]][:1] == ["huobi-vip.cc"]
    assert len(report["entities"]) == 2 and result.stderr == ""


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "last tuesday"], "--since: bad date 'last tuesday': use YYYY-MM-DD or ISO 8601"),
    (["--since", "2024-13-01"], "--since: bad date '2024-13-01'"),
    (["--status", "open"], "--status: unknown value 'open'; use one of new, reviewing"),
    (["--kind", "iban"], "--kind: unknown value 'iban'; use one of url, domain"),
    (["--output", "/nonexistent/dir/x.html", "--format", "html"],
     "cannot write /nonexistent/dir/x.html: No such file or directory"),
])
def test_a_bad_option_is_one_line_and_a_nonzero_exit(
    desk: Desk, tmp_path: Path, args: list[str], message: str
) -> None:
    desk.file("huobi-vip.cc")
    result = run(["triage", *args], {"TIPLINE_DB": str(desk.path)}, tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: " + message), result.stderr


def test_triage_without_a_database_says_where_it_looked(tmp_path: Path) -> None:
    result = run(["triage"], {"TIPLINE_DB": str(tmp_path / "missing.db")}, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: no database at {tmp_path / 'missing.db'} (set TIPLINE_DB or pass --db)")
    assert not (tmp_path / "missing.db").exists()


def test_an_empty_tip_line_gives_an_empty_summary(desk: Desk) -> None:
    report = triage_json(desk)
    assert report["totals"]["reports"] == 0 and report["entities"] == []
    assert "No entities." in tipline(desk.path, "triage", "--format", "markdown").stdout


def test_help_explains_the_score_and_the_readme_documents_it() -> None:
    help_text = tipline(Path("unused.db"), "triage", "--help").stdout
    assert "score = 10 × log2(1 + distinct reporters)" in help_text
    assert f"0.5 ^ (days since last seen / {scoring.HALF_LIFE_DAYS:g})" in help_text
    assert f"× {scoring.WATCHLIST_BONUS:g} if it matches the watchlist" in help_text
    for code, weight in scoring.TYPE_WEIGHTS.items():
        assert code.split("_")[0] in help_text and f"{weight:g}" in help_text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Triage score" in readme


def test_matched_kinds_are_their_own_watchlist_terms() -> None:
    """The database matches these kinds by equality: lookup_terms must agree."""
    text = ("https://www.Huobi-VIP.cc/reg 转到 0xcb218617B5451BD2d9aafDa3fEdaff19e594eee2 或 "
            "TUVGLGuHvQr6M3Y3JgjytmEVVWiycrK2RD bc1qevscv9a4g5da9kd2lk3lakhlr8jefmhz0xa5rk "
            "1KX4LDXZmgj9BsUQiR6GNcYMaiyfUqA1eY 火币.com")
    found = [i for i in extract(text) if i.kind in summary_module.MATCHED_KINDS]
    assert {i.kind for i in found} == set(summary_module.MATCHED_KINDS)
    for i in found:
        assert lookup_terms(i.kind, i.value) == [(i.kind, i.value)], i


# ------------------------------------------------------------------- exactness at any depth


def iso_days_ago(desk: Desk, days: int) -> str:
    from triage.times import iso

    return iso(desk.now - days * DAY)


def brute_force(desk: Desk, filters: Filters, now: int, top: int) -> list[tuple[Any, ...]]:
    """Score every entity straight from the reports, the slow and obvious way."""
    rows = desk.rows(
        "SELECT i.kind, i.value, r.reporter, r.received_at, r.status, r.target_type "
        "FROM report_identifiers AS i JOIN reports AS r ON r.id = i.report_id")
    grouped: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for kind, value, reporter, at, status, target_type in rows:
        if filters.since is not None and at < filters.since:
            continue
        if filters.statuses and status not in filters.statuses:
            continue
        if filters.kinds and kind not in filters.kinds:
            continue
        if is_allowlisted(kind, value):
            continue
        grouped.setdefault((kind, value), []).append((reporter, at, target_type))
    scored = []
    for (kind, value), seen in grouped.items():
        reporters = len({r for r, _, _ in seen})
        last = max(at for _, at, _ in seen)
        weight = max(scoring.weight_of(t) for _, _, t in seen)
        name = watchlist_match(desk.db, kind, value)
        total = scoring.score(reporters, last, weight, name is not None, now)
        scored.append((total, kind, value, len(seen), reporters, name))
    scored.sort(key=lambda s: (-s[0], -s[4], -s[3], s[1], s[2]))
    return [(shown_score(total), *rest) for total, *rest in scored[:top]]


def brute_totals(desk: Desk, filters: Filters) -> Totals:
    """Count the selected reports straight from the reports table."""
    selected = [
        (reporter, status, target_type) for reporter, status, target_type, at in desk.rows(
            "SELECT reporter, status, target_type, received_at FROM reports")
        if (filters.since is None or at >= filters.since)
        and (not filters.statuses or status in filters.statuses)
    ]
    return Totals(len(selected), len({r for r, _, _ in selected}),
                  dict(Counter(s for _, s, _ in selected)),
                  dict(Counter(t for _, _, t in selected)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_ranking_is_exact_however_deep_the_walk_is_cut(
    desk: Desk, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    import_entries(desk.db, parse_csv(
        (WATCHLIST + "OKX,欧易,okx-lucky.top,\n").encode()), desk.now)
    names = ["火币", "星链", "币赢", "欧易", "Huobi Global", "CoinPro"]
    domains = [f"site{n}.top" for n in range(12)] + ["okx-lucky.top", "icbc.com.cn"]
    for n in range(160):
        who = rng.choice(domains)
        if rng.random() < 0.5:
            who += f" 平台名称：{rng.choice(names)}"
        if rng.random() < 0.3:
            who += f" 电话 1391234{rng.randrange(20):04d}"
        desk.file(who, reporter=f"p_{rng.randrange(25)}",
                  target_type=rng.choice(list(scoring.TYPE_WEIGHTS)),
                  days_ago=rng.random() * 120, description=f"tip {n}")
    for receipt, in desk.rows("SELECT receipt FROM reports ORDER BY random() LIMIT 60"):
        desk.db.execute("UPDATE reports SET status = ? WHERE receipt = ?",
                        (rng.choice(["reviewing", "closed", "dismissed"]), receipt))
    # Tiny depths and budgets, so the walk is cut, deepened and falls back to a scan.
    monkeypatch.setattr(summary_module, "SUGGESTION_POOL", 3)
    monkeypatch.setattr(summary_module, "DEPTH_PER_ENTITY", 1)
    monkeypatch.setattr(summary_module, "MAX_LOOKUPS", 2)
    source = SqlSummary.current(connect(desk.path))
    for filters in (Filters(), Filters(statuses=("new",)),
                    Filters(statuses=("new", "reviewing")), Filters(kinds=("phone", "name")),
                    Filters(since=desk.now - 30 * DAY), Filters(since=desk.now - 100 * DAY),
                    Filters(since=desk.now - 60 * DAY, statuses=("new", "closed"))):
        assert source.totals(filters) == brute_totals(desk, filters), filters
        for top in (1, 4, 15):
            got = summarise(source, filters, desk.now, top)
            assert [(e.score, e.kind, e.value, e.reports, e.reporters, e.watchlist)
                    for e in got.entities] == brute_force(desk, filters, desk.now, top), (
                filters, top)


def test_a_new_platform_with_few_reporters_outranks_big_quiet_ones(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_entries(desk.db, parse_csv(WATCHLIST.encode()), desk.now)
    for n in range(10):  # big once, quiet for half a year
        for r in range(9):
            desk.file(f"old-platform{n}.top", reporter=f"p_{n}_{r}", days_ago=180 + n)
    for r in range(3):
        desk.file("平台名称：星链 xinglian-new.vip", reporter=f"p_new{r}")
    desk.file("平台名称：火币", reporter="p_w", days_ago=1)  # on the watchlist, one reporter
    # Read six entities first: the big quiet ones, while the new one is left out.
    monkeypatch.setattr(summary_module, "SUGGESTION_POOL", 1)
    monkeypatch.setattr(summary_module, "DEPTH_PER_ENTITY", 2)
    got = summarise(SqlSummary.current(connect(desk.path)), Filters(), desk.now, 3)
    assert [e.value for e in got.entities] == ["xinglian-new.vip", "星链", "火币"]
    assert [(e.reporters, e.watchlist) for e in got.entities] == [
        (3, None), (3, None), (1, "Huobi")]


def test_a_watchlisted_domain_is_never_left_out_for_its_size(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_entries(desk.db, parse_csv(WATCHLIST.encode()), desk.now)
    for n in range(4):  # busy platforms nobody tracks
        for r in range(20):
            desk.file(f"busy{n}.top", reporter=f"p_{n}_{r}", days_ago=0.1 * n)
    for r in range(7):  # fewer reporters, but on the watchlist and a payment channel
        desk.file("https://huobi.com/pay", reporter=f"p_h{r}", target_type="payment")
    monkeypatch.setattr(summary_module, "SUGGESTION_POOL", 1)
    monkeypatch.setattr(summary_module, "DEPTH_PER_ENTITY", 2)
    got = summarise(SqlSummary.current(connect(desk.path)), Filters(kinds=("domain",)), desk.now, 1)
    assert [(e.value, e.reporters, e.watchlist) for e in got.entities] == [
        ("huobi.com", 7, "Huobi")]


def recounted(desk: Desk) -> list[tuple[Any, ...]]:
    """Each entity's running totals, counted afresh from the reports."""
    return desk.rows(
        "SELECT kind, value, count(*), count(DISTINCT reporter), max(received_at), "
        "sum(DISTINCT CASE target_type WHEN 'exchange' THEN 1 WHEN 'payment' THEN 8 "
        "ELSE 32 END) FROM report_identifiers AS i JOIN reports AS r "
        "ON r.id = i.report_id GROUP BY kind, value ORDER BY 1, 2")


def indexed(desk: Desk) -> list[tuple[Any, ...]]:
    """Triage's tables once caught up (checked row by row); the running totals kept."""
    entity_index.catch_up(desk.db)  # what triage does before it reads
    # The first sighting is kept, or forgotten (NULL) once a deletion may have moved it.
    for kind, value, first in desk.rows("SELECT kind, value, first_seen FROM entity_stats"):
        (actual,) = desk.rows(
            "SELECT min(received_at) FROM report_identifiers AS i JOIN reports AS r "
            "ON r.id = i.report_id WHERE kind = ? AND value = ?", (kind, value))[0]
        assert first in (actual, None)
    assert desk.rows("SELECT kind, value, reporter, received_at, report_id, status, "
                     "target_type FROM entity_reports ORDER BY 1, 2, 3, 4, 5") == desk.rows(
        "SELECT kind, value, reporter, received_at, r.id, status, target_type FROM "
        "report_identifiers AS i JOIN reports AS r ON r.id = i.report_id "
        "ORDER BY 1, 2, 3, 4, 5")
    assert desk.rows("SELECT sweep_to, entity_pending.report_id FROM entity_index "
                     "LEFT JOIN entity_pending") == [(None, None)]
    return desk.rows("SELECT kind, value, reports, reporters, last_seen, types "
                     "FROM entity_stats ORDER BY 1, 2")


def file_eighty(desk: Desk, rng: random.Random) -> None:
    """Eighty reports naming six sites and five phones, from eight reporters."""
    for _ in range(80):
        desk.file(f"site{rng.randrange(6)}.top 电话 1391234{rng.randrange(5):04d}",
                  reporter=f"p_{rng.randrange(8)}", days_ago=rng.random() * 50,
                  target_type=rng.choice(["exchange", "payment", "other"]))


@pytest.mark.parametrize("sweeping", [False, True], ids=["report-by-report", "swept"])
def test_running_totals_follow_case_changes_refiles_and_purges(
    desk: Desk, sweeping: bool, monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(9)
    if sweeping:  # every backlog swept in key order, a few rows per transaction
        monkeypatch.setattr(entity_index, "SWEEP_MIN", 1)
        monkeypatch.setattr(entity_index, "MIN_SWEEP_ROWS", 1)
        monkeypatch.setattr(entity_index, "FIRST_SWEEP_ROWS", 7)
    file_eighty(desk, rng)

    assert indexed(desk) == recounted(desk)
    for receipt, in desk.rows("SELECT receipt FROM reports ORDER BY random() LIMIT 30"):
        tipline(desk.path, "case", receipt, "--status", rng.choice(["reviewing", "closed"]))
    assert indexed(desk) == recounted(desk)
    desk.db.execute("UPDATE reports SET target_type = 'payment', reporter = 'p_x', "
                    "received_at = received_at - 86400 WHERE id % 3 = 0")
    assert indexed(desk) == recounted(desk)
    desk.db.execute("DELETE FROM reports WHERE received_at < ?", (desk.now - 30 * DAY,))
    assert indexed(desk) == recounted(desk) and indexed(desk)
    desk.db.execute("DELETE FROM report_identifiers WHERE kind = 'phone'")
    assert indexed(desk) == recounted(desk)
    # An identifier added to a report triage has already indexed: indexed on the next run.
    desk.db.execute("INSERT INTO report_identifiers (report_id, kind, value, raw) SELECT "
                    "max(id), 'domain', 'late.top', 'late.top' FROM reports")
    assert indexed(desk) == recounted(desk)
    # The newest reports deleted, their ids come back with the next ones: indexed too.
    desk.db.execute("DELETE FROM reports WHERE id > (SELECT max(id) - 5 FROM reports)")
    for n in range(3):
        desk.file(f"site{n}.top 电话 13912340001", reporter="p_new")
    assert indexed(desk) == recounted(desk)
    desk.db.execute("DELETE FROM reports")
    assert indexed(desk) == [] and desk.rows("SELECT count(*) FROM entity_reports") == [(0,)]


def assert_shown_counts_exact(desk: Desk) -> None:
    """`tipline show` counts each report naming an identifier once, whatever is indexed."""
    naming = dict(desk.rows("SELECT kind || ':' || value, count(*) FROM report_identifiers "
                            "GROUP BY kind, value"))
    for receipt, in desk.rows("SELECT receipt FROM reports"):
        case = load_case(desk.db, receipt)
        assert case is not None
        shown = {f"{i.kind}:{i.value}": i.reports for i in case.identifiers}
        assert shown.items() <= naming.items(), receipt


def test_reports_that_change_while_a_sweep_runs_are_counted_as_they_end_up(
    desk: Desk, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Between the sweep's transactions, other processes close cases, refile and purge
    # reports, take identifiers off and add them, and file new reports.
    rng = random.Random(4)
    monkeypatch.setattr(entity_index, "MIN_SWEEP_ROWS", 1)
    monkeypatch.setattr(entity_index, "FIRST_SWEEP_ROWS", 6)
    monkeypatch.setattr(entity_index, "MAX_SWEEP_ROWS", 6)
    file_eighty(desk, rng)
    other = connect(desk.path)
    changes = [
        "UPDATE reports SET status = 'closed' WHERE id % 5 = 1",
        "UPDATE reports SET reporter = 'p_x', target_type = 'payment' WHERE id % 7 = 2",
        "DELETE FROM report_identifiers WHERE kind = 'phone' AND report_id % 4 = 0",
        "INSERT INTO report_identifiers (report_id, kind, value, raw) SELECT id, 'domain', "
        "'late.top', 'late.top' FROM reports WHERE id % 9 = 3",
        "DELETE FROM reports WHERE id % 11 = 5",
        "DELETE FROM reports WHERE id > (SELECT max(id) - 4 FROM reports)",  # ids come back
        "UPDATE reports SET received_at = received_at - 86400 WHERE id % 6 = 0",
    ]
    parts = 0

    def between(done: int) -> None:
        nonlocal parts
        parts += 1
        assert_shown_counts_exact(desk)
        if changes:
            other.execute(changes.pop(0))
            if parts == 6:
                for n in range(3):
                    desk.file(f"site{n}.top 电话 13912340001", reporter="p_new")

    assert entity_index.sweep(desk.db, progress=between) > 0
    assert not changes and parts > 8
    assert indexed(desk) == recounted(desk)


def test_a_sweep_cut_short_is_finished_by_the_next_catch_up_in_any_process(
    desk: Desk, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(entity_index, "MIN_SWEEP_ROWS", 1)
    monkeypatch.setattr(entity_index, "FIRST_SWEEP_ROWS", 5)
    monkeypatch.setattr(entity_index, "MAX_SWEEP_ROWS", 5)
    monkeypatch.setattr(entity_index, "SWEEP_MIN", 50)
    file_eighty(desk, random.Random(5))

    def interrupted(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        entity_index.sweep(desk.db, progress=interrupted)
    ((to, kind),) = desk.rows("SELECT sweep_to, swept_kind FROM entity_index")
    assert to == 80 and kind  # some entities swept, the cursor kept
    desk.db.execute("UPDATE reports SET status = 'closed' WHERE id % 3 = 0")  # re-queued
    # Meanwhile `tipline show` counts each report naming an identifier once: swept or not,
    # re-queued or not.
    assert_shown_counts_exact(desk)
    # Two processes take part. This one is cut short again; another finishes the sweep,
    # then more reports come and a second sweep begins: what this one staged for the
    # first must not go into it.
    calls = []
    ((queued,),) = desk.rows("SELECT count(*) FROM entity_pending")

    def helped(done: int) -> None:
        calls.append(done)
        if len(calls) == 1:
            # All of the sweep, then the late report and those re-queued.
            assert entity_index.catch_up(connect(desk.path)) == 80 + 1 + queued
            file_eighty(desk, random.Random(6))
            with pytest.raises(KeyboardInterrupt):
                entity_index.sweep(connect(desk.path), progress=interrupted)
            assert desk.rows("SELECT sweep_to FROM entity_index") == [(161,)]

    desk.file("site1.top", reporter="p_late")
    entity_index.sweep(desk.db, progress=helped)
    assert len(calls) == 1 and desk.rows("SELECT sweep_to FROM entity_index") == [(161,)]
    assert_shown_counts_exact(desk)
    assert indexed(desk) == recounted(desk)
    assert desk.rows("SELECT sweep_to, indexed_to FROM entity_index") == [(None, 161)]


@pytest.mark.parametrize("seed", range(12))
def test_a_sweep_stays_exact_whatever_other_processes_do_between_its_steps(
    desk: Desk, seed: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Random writes before the sweep stages its rows and between its transactions,
    # another process joining the sweep and being cut short; `show` checked throughout.
    rng = random.Random(seed)
    monkeypatch.setattr(entity_index, "MIN_SWEEP_ROWS", 1)
    monkeypatch.setattr(entity_index, "FIRST_SWEEP_ROWS", 3)
    monkeypatch.setattr(entity_index, "MAX_SWEEP_ROWS", 3)
    monkeypatch.setattr(entity_index, "SWEEP_MIN", 10**9)  # only this one sweep

    def file(count: int) -> None:
        for _ in range(count):
            desk.file(f"site{rng.randrange(5)}.top 电话 1391234{rng.randrange(4):04d}",
                      reporter=f"p{rng.randrange(5)}", days_ago=rng.random() * 9,
                      target_type=rng.choice(["exchange", "payment"]))

    def join() -> None:
        cut_after = rng.randint(1, 3)

        def cut(done: int) -> None:
            nonlocal cut_after
            cut_after -= 1
            if cut_after <= 0:
                raise KeyboardInterrupt

        with contextlib.suppress(KeyboardInterrupt):
            entity_index.catch_up(connect(desk.path), progress=cut)

    file(30)
    other = connect(desk.path)
    writes: list[Callable[[], object]] = [
        lambda: other.execute("UPDATE reports SET status = 'closed' WHERE id = ?",
                              (rng.randint(1, 40),)),
        lambda: other.execute("UPDATE reports SET reporter = 'px', target_type = 'payment' "
                              "WHERE id = ?", (rng.randint(1, 40),)),
        lambda: other.execute("UPDATE reports SET received_at = received_at - 5 WHERE id = ?",
                              (rng.randint(1, 40),)),
        lambda: other.execute("DELETE FROM report_identifiers WHERE report_id = ? "
                              "AND kind = 'phone'", (rng.randint(1, 40),)),
        lambda: other.execute("INSERT OR IGNORE INTO report_identifiers "
                              "(report_id, kind, value, raw) SELECT id, 'domain', "
                              "?, 'x' FROM reports WHERE id = ?",
                              (f"site{rng.randrange(6)}.top", rng.randint(1, 40))),
        lambda: other.execute("DELETE FROM reports WHERE id = ?", (rng.randint(1, 40),)),
        lambda: other.execute("DELETE FROM reports WHERE id > (SELECT max(id) - ? "
                              "FROM reports)", (rng.randint(1, 3),)),  # their ids come back
        lambda: file(rng.randint(1, 3)),
    ]
    stage = entity_index._stage

    def staged_late(db: Any, *args: Any) -> int:
        for _ in range(rng.randint(0, 4)):  # after the sweep began, before it reads
            rng.choice(writes)()
        return stage(db, *args)

    def between(done: int) -> None:
        for _ in range(rng.randint(0, 3)):
            rng.choice([*writes, join])()
        assert_shown_counts_exact(desk)

    monkeypatch.setattr(entity_index, "_stage", staged_late)
    entity_index.sweep(desk.db, progress=between)
    monkeypatch.setattr(entity_index, "_stage", stage)
    assert indexed(desk) == recounted(desk)


def paced_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A clock for db.pace that moves only when a test moves it (clock[0] += seconds)."""
    clock = [0.0]
    monkeypatch.setattr(pace, "_clock", lambda: clock[0])
    return clock


def test_a_sweep_takes_whole_entities_in_transactions_that_hold_the_lock_about_as_asked(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_eighty(desk, random.Random(3))
    clock = paced_clock(monkeypatch)  # a staged row costs 1 ms: 0.01 s of lock is 10 rows
    asked: list[int] = []
    sweep_part = entity_index._sweep_part

    def timed(db: Any, serial: int, rows: int) -> int | None:
        taken = sweep_part(db, serial, rows)
        if taken is not None:
            asked.append(rows)
            assert taken >= rows or not desk.rows("SELECT sweep_to FROM entity_index "
                                                  "WHERE sweep_to IS NOT NULL")
            clock[0] += taken * 0.001
        return taken

    monkeypatch.setattr(entity_index, "_sweep_part", timed)
    monkeypatch.setattr(entity_index, "FIRST_SWEEP_ROWS", 2)
    monkeypatch.setattr(entity_index, "MIN_SWEEP_ROWS", 1)
    assert entity_index.sweep(desk.db, seconds=0.01) == 80
    # The first part is a guess; the next grows at most fourfold, then the pace holds
    # (whole entities: a part may take more rows than asked, never fewer but the last).
    assert asked[:2] == [2, 8] and set(asked[2:]) <= set(range(1, 11)) and len(asked) > 4
    assert indexed(desk) == recounted(desk)


def test_a_backlog_is_indexed_in_transactions_that_hold_the_lock_about_as_long_as_asked(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(300):
        desk.file(f"site{n % 7}.top", reporter=f"p_{n % 11}")
    clock = paced_clock(monkeypatch)  # a report costs 1 ms: 0.05 s of lock is 50 reports
    sizes: list[int] = []
    index_new = entity_index.index_new

    def timed(db: Any, limit: int | None = None) -> int:
        done = index_new(db, limit)
        sizes.append(done)
        clock[0] += done * 0.001
        return done

    monkeypatch.setattr(entity_index, "index_new", timed)
    monkeypatch.setattr(entity_index, "FIRST_CHUNK", 5)
    monkeypatch.setattr(entity_index, "MIN_CHUNK", 1)
    assert entity_index.catch_up(desk.db, seconds=0.05) == 300
    # The first chunk is a guess; each next one grows at most fourfold towards 50.
    assert sizes == [5, 20, 50, 50, 50, 50, 50, 25, 0]
    assert desk.rows("SELECT count(*) FROM entity_reports") == [(300,)]

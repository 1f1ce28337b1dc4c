"""What is new to whom, the HTML brief's marks, URLs with their domains, and who else named it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.desk import Desk, tipline
from tests.test_cli import run

EVM = "0x52908400098527886E0F7030069857D2E4169EE7"


def last_run_of(desk: Desk, key: str) -> int:
    (at,) = desk.rows("SELECT last_run_at FROM triage_runs WHERE investigator = ?", (key,))[0]
    return int(at)


def html_brief(desk: Desk, *args: str) -> str:
    out = desk.path.parent / "brief.html"
    result = tipline(desk.path, "triage", "--format", "html", "-o", str(out), *args)
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def triage_json(desk: Desk, *args: str) -> dict[str, Any]:
    result = tipline(desk.path, "triage", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_an_html_brief_or_a_script_does_not_use_up_what_is_new_in_my_table(
    desk: Desk,
) -> None:
    desk.file("huobi-vip.cc", reporter="p_ann")
    assert tipline(desk.path, "triage", "--by", "ann").exit_code == 0
    desk.file("新平台 coin-new.vip", reporter="p_bob", at=last_run_of(desk, "ann") + 60)

    # A cron job makes ann's brief, and a script reads the JSON, before ann looks.
    assert "coin-new.vip" in html_brief(desk, "--by", "ann")
    assert triage_json(desk, "--by", "ann")["new_since"]["reports"] is None  # its own first
    table = tipline(desk.path, "triage", "--by", "ann").stdout
    assert "1 new since your last run as ann" in table
    assert re.search(r"coin-new\.vip new", table)
    # Each investigator keeps their own: bob has never run it.
    assert "your first run as bob" in tipline(desk.path, "triage", "--by", "bob").stdout


def test_the_html_brief_marks_new_entities_and_each_receipts_status(desk: Desk) -> None:
    old = desk.file("huobi-vip.cc", reporter="p_ann")
    html_brief(desk, "--by", "ann")
    assert tipline(desk.path, "case", old, "--status", "reviewing").exit_code == 0
    new = desk.file("新平台 coin-new.vip", reporter="p_bob",
                    at=last_run_of(desk, "ann (html)") + 60)

    page = html_brief(desk, "--by", "ann")
    assert "1 new since your last html run as ann" in page
    row = next(r for r in page.split("<tr") if "coin-new.vip" in r)
    assert row.startswith(' class="new-row"') and "new entity" in row
    assert f'{new} <span class="status st-new">new</span> ' \
           '<span class="new">since your last run</span>' in row
    old_row = next(r for r in page.split("<tr") if "huobi-vip.cc" in r)
    assert 'class="new-row"' not in old_row and "new entity" not in old_row
    assert f'{old} <span class="status st-reviewing">reviewing</span>' in old_row
    assert "since your last run</span>" not in old_row


def test_a_domains_urls_are_listed_with_it_not_as_rows_repeating_it(
    desk: Desk, tmp_path: Path
) -> None:
    for n in range(3):  # three links to one site, each from two people
        for reporter in (f"p_a{n}", f"p_b{n}"):
            desk.file(f"https://www.huobi-vip.com/reg?ref={n}", reporter=reporter)
    desk.file("平台名称：星链 电话 13800138000 coinwin.top", reporter="p_dan")
    desk.file("https://mp.weixin.qq.com/s?__biz=MzA5", reporter="p_eve")  # a platform's

    # A script still gets every URL entity with its figures (the JSON contract).
    report = triage_json(desk)
    values = [(e["kind"], e["value"]) for e in report["entities"]]
    assert values[0] == ("domain", "huobi-vip.com")
    assert {("url", f"https://www.huobi-vip.com/reg?ref={n}") for n in range(3)} <= set(values)
    assert ("url", "https://mp.weixin.qq.com/s?__biz=MzA5") in values

    # People read a domain's URLs under it; the list is still filled to --top.
    brief = run(["triage", "--format", "markdown", "--top", "4"],
                {"TIPLINE_DB": str(desk.path)}, tmp_path).stdout
    assert all(f"https://www.huobi-vip.com/reg?ref={n}" in brief for n in range(3))
    assert "coinwin.top" in brief

    table = run(["triage"], {"TIPLINE_DB": str(desk.path)}, tmp_path).stdout
    lines = table.splitlines()
    at = next(i for i, line in enumerate(lines) if "huobi-vip.com" in line and "domain" in line)
    assert [line.strip() for line in lines[at + 1:at + 4]] == [
        f"https://www.huobi-vip.com/reg?ref={n}" for n in range(3)]
    assert not any(" url " in line and "huobi-vip.com" in line for line in lines)


def test_show_lists_the_other_reports_naming_each_identifier(desk: Desk, tmp_path: Path
                                                             ) -> None:
    first = desk.file(f"钱包 {EVM}", reporter="p_ann", days_ago=3)
    second = desk.file(f"{EVM} huobi-vip.cc", reporter="p_bob", days_ago=2)
    third = desk.file(f"收款 {EVM}", reporter="p_cat", days_ago=1)

    result = run(["show", first], {"TIPLINE_DB": str(desk.path)}, tmp_path)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if EVM.lower() in line)
    assert re.search(rf"\b3\s+{third}\s+{second}$", line)  # the count, then who they are
    case = json.loads(tipline(desk.path, "show", second, "--json").stdout)
    evm = next(i for i in case["identifiers"] if i["kind"] == "evm")
    assert (evm["reports"], evm["other_receipts"], evm["other_reports"]) == (
        3, [third, first], 2)


def test_possibly_the_same_honours_the_status_filter(desk: Desk) -> None:
    desk.file("平台名称：火币", reporter="p_ann")
    closed = desk.file("https://huobi-vip.cc/register", reporter="p_bob")
    assert tipline(desk.path, "case", closed, "--status", "closed").exit_code == 0

    def pairs(*args: str) -> list[set[str]]:
        return [{s["a"]["value"], s["b"]["value"]}
                for s in triage_json(desk, *args)["suggestions"]]

    assert {"火币", "huobi-vip.cc"} in pairs()
    assert pairs("--status", "new") == []  # huobi-vip.cc is only in a closed report
    assert {"火币", "huobi-vip.cc"} not in pairs("--status", "closed")

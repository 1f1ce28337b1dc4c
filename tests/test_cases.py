"""`tipline show` and `tipline case`: one report in full, and investigators' audited updates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config import Settings
from db.connection import connect
from db.watchlist import import_entries
from tests.conftest import WeChat, rows
from tests.desk import Desk, tipline
from tests.test_cli import run
from tests.test_conversation import Reporter, receipt_in
from triage.watchlist import parse_csv

FETCHED_SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


async def test_a_report_from_the_chat_is_shown_in_full_and_worked_on(
    weixin: WeChat, settings: Settings
) -> None:
    alice = Reporter(weixin, "o_alice_openid")
    await alice.say("举报")
    await alice.say("4")
    await alice.say("平台名称：火币 收款支付宝 13800138000 网址 https://huobi-vip.cc/pay")
    await alice.say("代理让我扫码付款买USDT。")
    await alice.photo("media-qr")
    await alice.send(MsgType="location", Location_X=31.2, Location_Y=121.5, Scale=15,
                     Label="浦东新区")
    await alice.say("完成")
    receipt = receipt_in(await alice.say("提交"))
    db = settings.db_path
    import_entries(connect(db), parse_csv(b"name,aliases,domains,addresses\nHuobi,,huobi.com,\n"),
                   1)

    shown = tipline(db, "show", receipt.lower().replace("-", ""), "--json")
    assert shown.exit_code == 0, shown.output
    case = json.loads(shown.stdout)
    assert case["receipt"] == receipt and case["status"] == "new"
    assert case["target_type"] == "payment" and case["channel"] == "wechat"
    assert case["received_at"].endswith("+08:00") and case["assignee"] is None
    assert case["description"] == "代理让我扫码付款买USDT。"
    identifiers = {(i["kind"], i["value"]): i for i in case["identifiers"]}
    assert identifiers["name", "火币"]["watchlist"] == "Huobi"  # by pinyin: huobi
    assert identifiers["phone", "+8613800138000"]["reports"] == 1
    assert identifiers["url", "https://huobi-vip.cc/pay"]["raw"] == "https://huobi-vip.cc/pay"
    assert identifiers["domain", "huobi-vip.cc"]["watchlist"] is None
    photo, place = case["evidence"]
    assert (photo["kind"], photo["sha256"]) == ("image", None)
    assert photo["fetch_status"] == "not fetched: no API credentials"
    assert place["fetch_status"] == "not applicable" and place["details"]["label"] == "浦东新区"
    assert [h["action"] for h in case["history"]] == ["filed"] and case["notes"] == []
    # The reporter is a pseudonym; the OpenID appears nowhere.
    assert "o_alice_openid" not in shown.stdout and len(case["reporter"]) == 32

    result = tipline(db, "case", receipt, "--status", "reviewing", "--assign", "alice",
                     "--note", "同一个收款码上周也出现过", "--by", "bob")
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == (
        f"{receipt}: status new → reviewing; assign nobody → alice; note added")

    case = json.loads(tipline(db, "show", receipt, "--json").stdout)
    assert (case["status"], case["assignee"]) == ("reviewing", "alice")
    assert [(h["actor"], h["action"], h["detail"]) for h in case["history"][1:]] == [
        ("bob", "status", "new → reviewing"), ("bob", "assign", "nobody → alice"),
        ("bob", "note", "同一个收款码上周也出现过")]
    assert [(n["by"], n["text"]) for n in case["notes"]] == [("bob", "同一个收款码上周也出现过")]

    # The reporter sees the new status, never the note or who works on it.
    answer = await alice.say(f"查询 {receipt}")
    assert "核查中" in answer and "收款码" not in answer and "alice" not in answer


def test_evidence_shows_its_hash_once_fetched_and_its_attempts_while_pending(
    tmp_path: Path,
) -> None:
    desk = Desk(tmp_path / "tipline.db")
    receipt = desk.file("huobi-vip.cc")
    (report_id,) = desk.rows("SELECT id FROM reports")[0]
    # What the media fetcher writes when a photo is downloaded, and while one keeps failing.
    desk.db.execute(
        "INSERT INTO evidence (report_id, reporter, kind, media_id, details, fetch_status, "
        "sha256, size, mime, fetched_at, received_at) VALUES (?, 'p_alice', 'image', 'm1', "
        "'{}', 'fetched', ?, 2048, 'image/jpeg', ?, ?)",
        (report_id, FETCHED_SHA256, desk.now, desk.now))
    cursor = desk.db.execute(
        "INSERT INTO evidence (report_id, reporter, kind, media_id, details, fetch_status, "
        "received_at) VALUES (?, 'p_alice', 'voice', 'm2', '{\"format\": \"amr\"}', "
        "'pending', ?)", (report_id, desk.now))
    desk.db.execute("INSERT INTO fetch_jobs (evidence_id, attempts, due_at, expires_at, "
                    "last_error) VALUES (?, 3, ?, ?, 'HTTP 503')",
                    (cursor.lastrowid, desk.now, desk.now + 3 * 86400))

    case = json.loads(tipline(desk.path, "show", receipt, "--json").stdout)
    fetched, pending = case["evidence"]
    assert (fetched["sha256"], fetched["size"], fetched["mime"]) == (
        FETCHED_SHA256, 2048, "image/jpeg")
    assert fetched["fetch_status"] == "fetched"
    assert (pending["fetch_status"], pending["attempts"], pending["last_error"]) == (
        "pending", 3, "HTTP 503")

    table = tipline(desk.path, "show", receipt).stdout
    for heading in ("Identifiers", "Evidence", "History"):
        assert heading in table
    assert FETCHED_SHA256 in table and "tried 3×: HTTP 503" in table and receipt in table


def test_show_and_case_run_as_processes(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "tipline.db")
    receipt = desk.file("平台名称：星链 网址 xinglian-ex.top")
    env = {"TIPLINE_DB": str(desk.path), "USER": "carol", "LOGNAME": "carol"}

    changed = run(["case", receipt, "--status", "escalated"], env, tmp_path)
    assert changed.returncode == 0, changed.stderr
    assert changed.stderr.strip() == f"{receipt}: status new → escalated"
    shown = run(["show", receipt, "--format", "json"], env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    history = json.loads(shown.stdout)["history"]
    assert (history[-1]["actor"], history[-1]["detail"]) == ("carol", "new → escalated")


def test_a_change_that_changes_nothing_is_not_logged(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "tipline.db")
    receipt = desk.file("huobi-vip.cc")
    (updated,) = desk.rows("SELECT updated_at FROM reports")[0]

    assert tipline(desk.path, "case", receipt, "--status", "new").stderr.strip() == (
        f"{receipt}: nothing changed")
    assert desk.rows("SELECT updated_at FROM reports") == [(updated,)]
    tipline(desk.path, "case", receipt, "--assign", "alice", "--by", "bob")
    result = tipline(desk.path, "case", receipt, "--assign", "", "--by", "bob")
    assert result.stderr.strip() == f"{receipt}: assign alice → nobody"
    assert desk.rows("SELECT action, detail FROM report_history ORDER BY id") == [
        ("filed", "wechat"), ("assign", "nobody → alice"), ("assign", "alice → nobody")]
    assert desk.rows("SELECT assignee FROM reports") == [(None,)]


@pytest.mark.parametrize(("args", "message", "code"), [
    (["case", "{receipt}", "--status", "solved"],
     "Error: --status: unknown value 'solved'; use one of new, reviewing, escalated, "
     "dismissed, closed", 2),
    (["case", "{receipt}"],
     "Error: nothing to do: give --status, --assign, --note and/or --ask", 2),
    (["case", "{receipt}", "--note", "  "], "Error: the note is empty", 2),
    (["case", "ZZZZZ-ZZZZZ", "--status", "closed"], "Error: no report with receipt ZZZZZ-ZZZZZ",
     1),
    (["show", "ZZZZZ-ZZZZZ"], "Error: no report with receipt ZZZZZ-ZZZZZ", 1),
    (["show", "hello"], "Error: 'hello' is not a receipt: 10 letters or digits, e.g. "
                        "ABCDE-12345", 1),
])
def test_bad_statuses_and_unknown_receipts_are_one_line_errors(
    tmp_path: Path, args: list[str], message: str, code: int
) -> None:
    desk = Desk(tmp_path / "tipline.db")
    receipt = desk.file("huobi-vip.cc")
    result = run([a.format(receipt=receipt) for a in args], {"TIPLINE_DB": str(desk.path)},
                 tmp_path)
    assert (result.returncode, result.stderr.strip()) == (code, message)
    assert rows(desk.path, "SELECT action FROM report_history") == [("filed",)]


def test_show_counts_every_report_naming_an_identifier_indexed_by_triage_or_not(
    desk: Desk,
) -> None:
    first = desk.file("site.top", reporter="p_a")
    desk.file("site.top", reporter="p_b")
    assert tipline(desk.path, "triage", "--format", "json").exit_code == 0  # indexes both
    desk.file("site.top", reporter="p_c")  # filed since triage last ran
    (first_id,) = desk.rows("SELECT id FROM reports WHERE receipt = ?",
                            (first.replace("-", ""),))[0]
    # An identifier added to an indexed report puts it back in the queue (entity_pending),
    # while its old rows are still in triage's tables: it must count once, not twice.
    desk.db.execute("INSERT INTO report_identifiers (report_id, kind, value, raw) "
                    "VALUES (?, 'phone', '+8613800138000', '13800138000')", (first_id,))
    assert desk.rows("SELECT count(*) FROM entity_pending") == [(1,)]

    shown = json.loads(tipline(desk.path, "show", first, "--json").stdout)
    reports = {(i["kind"], i["value"]): i["reports"] for i in shown["identifiers"]}
    assert reports == {("domain", "site.top"): 3, ("phone", "+8613800138000"): 1}


HOSTILE = ("\x1b[2J\x1b]0;pwned\x07 \x1b]8;;https://evil.example\x1b\\bank.com\x1b]8;;\x1b\\ "
           "\x9b31m C1 \u202eedoc\u202c zero\u200bwidth")


def test_terminal_escapes_in_reporter_text_are_shown_not_obeyed(desk: Desk) -> None:
    """Regression (hardening 2): show printed ESC, OSC-8 and C1 sequences unchanged."""
    receipt = desk.file(f"evil-ex.com {HOSTILE}", description=HOSTILE)
    table = tipline(desk.path, "show", receipt).output
    as_json = tipline(desk.path, "show", receipt, "--json").output
    for output in (table, as_json):
        assert not any(c in output for c in "\x1b\x07\x9b\u202e\u202c\u200b")
    assert "\\x1b[2J" in table and "\\u202eedoc" in table
    assert json.loads(as_json)["description"] == HOSTILE  # the data itself is untouched
    assert desk.rows("SELECT description FROM reports") == [(HOSTILE,)]


@pytest.mark.parametrize("fmt", ["table", "markdown", "html", "json"])
def test_terminal_escapes_are_inert_in_every_triage_format(desk: Desk, fmt: str) -> None:
    """Regression (hardening 2): the same held for names in the triage outputs."""
    desk.file("名称 币安\u202e国际 evil-ex.com \x1b[31mred", reporter="p_a")
    desk.file("名称 币安\u202e国际 evil-ex.com \x1b[31mred", reporter="p_b")
    output = tipline(desk.path, "triage", "--format", fmt).output
    assert "\x1b" not in output and "\u202e" not in output

"""`tipline import`: tips from the hotline, e-mail and letters become reports like the chat's."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.cli import importer
from bot.config import Settings
from bot.pseudonym import pseudonymiser
from db import entities, imports, pace
from db.connection import connect
from handlers.tips import identifiers
from tests.conftest import SECRET, rows
from tests.filing import Reporter
from tests.test_cli import run
from tests.test_export import env, invoke

HOTLINE = [
    {"description": "来电称在币安国际充值5000元后无法提现，客服微信：coinvip888",
     "who": "币安国际 https://www.binance-vip.cc/reg", "target_type": 1,
     "received_at": "2024-06-03T10:15:00+08:00", "reporter": "+8613912345678",
     "channel": "hotline"},
    {"description": "Caller was promised 10x on a token presale, paid 2000 USDT to "
                    "TQ5NAmMFHvrjX7w5K6tyu3CeZV3gPjnVBS",
     "who": "CoinPro token sale at coinpro-ico.io", "target_type": "ico",
     "received_at": "2024-06-03T11:00:00", "channel": "hotline"},
    {"description": "来信反映有公众号推荐虚拟币投资", "who": "公众号：币圈老王",
     "target_type": "3", "reporter": "张某（来信）", "channel": "letter"},
]


def jsonl(path: Path, items: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items),
                    encoding="utf-8")
    return path


def identifiers_of(settings: Settings, receipt: str) -> set[tuple[str, str]]:
    return set(rows(settings.db_path,
                    "SELECT kind, value FROM report_identifiers JOIN reports ON id = report_id "
                    "WHERE receipt = ?", (receipt,)))


# Answers to "who is it" and descriptions as reporters type them (from the corpus style).
SAME_AS_CHAT = [
    ("币安国际 https://www.binance-vip.cc/reg 客服微信：coinvip888 电话13912345678",
     "群里有人推荐USDT理财，说日收益3%，让我转账5000元到支付宝。"),
    ("火币网", "说是火币的新平台，平台叫「火币Pro」，充值后提不出来。"),
    ("TQ5NAmMFHvrjX7w5K6tyu3CeZV3gPjnVBS",
     "让我往这个地址转USDT，地址 0x52908400098527886E0F7030069857D2E4169EE7"),
    ("CoinPro token sale at coinpro-ico.io",
     "They promised 10x returns, telegram @coinpro_support"),
    ("公众号：币圈老王 gh_0123456789ab", "他在文章里推荐一个叫BitKing的交易所"),
    ("ＷＷＷ．ＣＯＩＮＥＸ－ＣＮ．ＣＯＭ", "这个网站骗了我两万，QQ群 283546771"),
    ("没有名字 service@okx-cn.top", "只记得对方的电话+1 415 555 2671，说是美国客服"),
]


def test_an_imported_tip_names_what_the_chat_would_have_filed(
    settings: Settings, tmp_path: Path
) -> None:
    for n, (who, what) in enumerate(SAME_AS_CHAT):
        Reporter(settings.db_path, f"o_chat{n}").file(who, what)
    tips = jsonl(tmp_path / "tips.jsonl", [{"who": w, "description": d} for w, d in SAME_AS_CHAT])
    code, output = invoke(settings, "import", str(tips))
    assert code == 0, output
    for who, what in SAME_AS_CHAT:
        (chat_filed,) = rows(settings.db_path, "SELECT id FROM reports WHERE channel = 'wechat' "
                             "AND who = ? AND description = ?", (who, what))
        (imported,) = rows(settings.db_path, "SELECT id FROM reports WHERE channel = 'import' "
                           "AND who = ? AND description = ?", (who, what))

        def named(report_id: int) -> set[tuple[str, str, str]]:
            return set(rows(settings.db_path, "SELECT kind, value, raw FROM report_identifiers "
                            "WHERE report_id = ?", (report_id,)))

        assert named(imported[0]) == named(chat_filed[0]), who
        assert named(imported[0]), who


def test_a_bare_name_stands_as_a_name_as_in_the_chat() -> None:
    assert identifiers("火幣網", "充值后提不出来了") == (("name", "火币", "火幣網"),)
    assert identifiers("不知道", "充值后提不出来了") == ()


def test_hotline_tips_are_filed_with_pseudonymous_reporters(
    settings: Settings, tmp_path: Path
) -> None:
    tips = jsonl(tmp_path / "hotline.jsonl", HOTLINE)
    code, output = invoke(settings, "import", str(tips))
    assert code == 0, output
    assert "3 rows from" in output and "3 filed, 0 skipped" in output
    filed = rows(settings.db_path, "SELECT receipt, reporter, channel, status, target_type, "
                 "received_at, lang FROM reports ORDER BY id")
    assert [(c, s, t, lang) for _, _, c, s, t, _, lang in filed] == [
        ("hotline", "new", "exchange", "zh"), ("hotline", "new", "ico", "en"),
        ("letter", "new", "wechat_account", "zh")]
    assert filed[0][5] == 1_717_380_900  # 2024-06-03T10:15:00+08:00
    assert filed[1][5] == 1_717_383_600  # no offset: Beijing time
    pseudonymise = pseudonymiser(SECRET)
    assert filed[0][1] == pseudonymise("+8613912345678")
    assert len({r for _, r, *_ in filed}) == 3  # an unknown reporter is nobody else
    dump = settings.db_path.read_bytes()
    assert b"13912345678" not in dump.replace(b"+8613912345678", b"")  # (identifier kept)
    assert "张某".encode() not in dump
    assert identifiers_of(settings, filed[0][0]) >= {
        ("domain", "binance-vip.cc"), ("wechat_id", "coinvip888")}
    assert identifiers_of(settings, filed[2][0]) == {("name", "币圈老王")}
    history = rows(settings.db_path, "SELECT action, detail FROM report_history")
    assert history == [("imported", "hotline"), ("imported", "hotline"), ("imported", "letter")]
    ((action, detail),) = rows(settings.db_path, "SELECT action, detail FROM admin_log")
    assert action == "import" and json.loads(detail)["filed"] == 3


def test_what_export_wrote_imports_back_and_never_twice(
    settings: Settings, tmp_path: Path
) -> None:
    alice = Reporter(settings.db_path, "o_alice")
    receipt = alice.file("币安国际 https://www.binance-vip.cc/reg",
                         "群里有人推荐USDT理财，让我转账。", photos=("m1",))
    alice.say("举报")
    alice.say("2")
    alice.say("CoinPro coinpro-ico.io")
    alice.say("They promised 10x returns.")
    alice.say("微信：coinvip888 他们的客服")  # text evidence: its identifiers join the report's
    alice.say("完成")
    alice.say("提交")
    Reporter(settings.db_path).db.execute("UPDATE reports SET status = 'escalated', "
                                          "assignee = 'li' WHERE receipt = ?", (receipt,))
    jsonl(tmp_path / "dummy.jsonl", HOTLINE)
    invoke(settings, "import", str(tmp_path / "dummy.jsonl"))
    exported = tmp_path / "export.jsonl"
    assert invoke(settings, "export", "--format", "jsonl", "-o", str(exported))[0] == 0

    # The same database: everything is already there.
    code, output = invoke(settings, "import", str(exported))
    assert code == 0, output
    assert "0 filed, 5 skipped" in output
    assert rows(settings.db_path, "SELECT count(*) FROM reports") == [(5,)]

    # Another database: the same reports, receipts, reporters, statuses and identifiers.
    other = tmp_path / "other.db"
    code, output = invoke(settings, "--db", str(other), "import", str(exported))
    assert code == 0, output
    columns = ("receipt, reporter, channel, status, target_type, who, description, lang, "
               "received_at, assignee")
    assert rows(other, f"SELECT {columns} FROM reports ORDER BY receipt") == rows(
        settings.db_path, f"SELECT {columns} FROM reports ORDER BY receipt")
    query = ("SELECT receipt, kind, value FROM report_identifiers JOIN reports ON id = report_id "
             "ORDER BY 1, 2, 3")
    assert rows(other, query) == rows(settings.db_path, query)
    assert ("wechat_id", "coinvip888") in {(k, v) for _, k, v in rows(other, query)}


def test_importing_the_same_hotline_file_twice_files_it_once(
    settings: Settings, tmp_path: Path
) -> None:
    tips = jsonl(tmp_path / "hotline.jsonl", HOTLINE[:2] + HOTLINE[:1])
    assert "2 filed, 1 skipped" in invoke(settings, "import", str(tips))[1]
    assert "0 filed, 3 skipped" in invoke(settings, "import", str(tips))[1]
    assert rows(settings.db_path, "SELECT count(*) FROM reports") == [(2,)]


def test_a_csv_from_a_spreadsheet_imports(settings: Settings, tmp_path: Path) -> None:
    tips = tmp_path / "letters.csv"
    tips.write_bytes("\ufeffDescription,who,target_type,received_at,reporter,\r\n"
                     "\"有人推荐虚拟币,说稳赚\",huobi-pro.vip,5,2024-06-01,王某,\r\n"
                     ",,,,,\r\n"
                     "'-5000元被骗,'=1+1,other,,,\r\n".encode())
    code, output = invoke(settings, "import", "--channel", "letter", str(tips))
    assert code == 0, output
    assert rows(settings.db_path, "SELECT description, who, target_type, received_at, channel "
                "FROM reports ORDER BY id") == [
        ("有人推荐虚拟币,说稳赚", "huobi-pro.vip", "app", 1_717_171_200, "letter"),
        ("-5000元被骗", "=1+1", "other",
         rows(settings.db_path, "SELECT received_at FROM reports WHERE id = 2")[0][0], "letter"),
    ]


def test_bad_rows_are_named_by_line_and_nothing_is_imported(
    settings: Settings, tmp_path: Path
) -> None:
    tips = tmp_path / "tips.jsonl"
    tips.write_text(
        json.dumps(HOTLINE[0], ensure_ascii=False) + "\n"
        + '{"who": "abc.com"}\n'
        + "\n"
        + '{"description": "x", "target_type": 9}\n'
        + '{"description": "x", "received_at": "yesterday"}\n'
        + "not json\n"
        + '["a list"]\n'
        + '{"description": "x", "receipt": "ABC"}\n'
        + '{"description": "x", "status": "open"}\n'
        + '{"description": 5}\n', encoding="utf-8")
    result = run(["import", str(tips)], env(settings), tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    prefix = f"{tips}: line"
    assert lines[:-1] == [
        f"{prefix} 2: description is required (what happened)",
        f"{prefix} 4: target_type 9 is not 1-6 or one of exchange, ico, wechat_account, "
        "payment, app, other",
        f"{prefix} 5: received_at: bad date 'yesterday': use YYYY-MM-DD or ISO 8601, e.g. "
        "2024-05-01 or 2024-05-01T09:30:00+08:00",
        f"{prefix} 6: not valid JSON (Expecting value at column 1)",
        f'{prefix} 7: expected a JSON object {{"description": …}}',
        f"{prefix} 8: receipt 'ABC' is not 10 letters or digits like ABCDE-12345",
        f"{prefix} 9: status 'open' is not one of new, reviewing, escalated, dismissed, closed",
        f"{prefix} 10: description must be text, got a number",
    ]
    assert lines[-1] == f"Error: 8 bad row(s) in {tips}; nothing was imported"
    assert "Traceback" not in result.stderr
    assert not settings.db_path.exists() or rows(
        settings.db_path, "SELECT count(*) FROM reports") == [(0,)]


@pytest.mark.parametrize(("args", "environ", "message"), [
    (["import", "missing.jsonl"], {}, "Error: cannot read missing.jsonl: No such file or "
                                      "directory"),
    (["import", "x.jsonl"], {"TIPLINE_SECRET_KEY": ""},
     "Error: TIPLINE_SECRET_KEY is required: set it in the environment or in .env"),
    (["import", "--channel", "Hot Line", "x.jsonl"], {}, "Error: --channel 'Hot Line' must be"),
    (["import", "--format", "csv", "x.jsonl"], {},
     "Error: x.jsonl: line 1: the header must name a description column"),
])
def test_import_errors_are_one_line(
    settings: Settings, tmp_path: Path, args: list[str], environ: dict[str, str], message: str
) -> None:
    jsonl(tmp_path / "x.jsonl", HOTLINE)
    result = run(args, {**env(settings), **environ}, tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(message), result.stderr
    assert "Traceback" not in result.stderr


def test_tips_piped_on_stdin_import(settings: Settings, tmp_path: Path) -> None:
    body = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in HOTLINE)
    result = run(["import", "-"], env(settings), tmp_path, stdin=body)
    assert result.returncode == 0, result.stderr
    assert "3 rows from stdin: 3 filed" in result.stderr
    assert len(result.stdout.splitlines()) == 4  # the receipts; messages stay on stderr


def test_a_big_file_goes_through_the_worker_pool_in_order(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(importer, "CHUNK_ROWS", 7)
    for setting in ("BATCH_ROWS", "MIN_BATCH_ROWS", "MAX_BATCH_ROWS"):
        monkeypatch.setattr(importer, setting, 20)
    tips = [{"description": f"第{n}条：充值后提不出来", "who": f"site{n % 13}.com",
             "received_at": f"2024-06-01T00:00:{n % 60:02d}+08:00",
             "receipt": f"{n:010d}"} for n in range(120)]
    bad = [*tips, {"who": "no description"}]
    file_batch = imports.file_batch

    def indexed_at_once(db: Any, filings: Any, **options: Any) -> imports.BatchResult:
        filed = file_batch(db, filings, **options)
        entities.catch_up(db)  # as a `tipline triage` run meanwhile would
        return filed

    monkeypatch.setattr(imports, "file_batch", indexed_at_once)
    monkeypatch.setattr(imports, "UNFILE_ROWS", 8)
    with pytest.raises(importer.ImportFailed) as failed:
        importer.import_tips(str(jsonl(tmp_path / "bad.jsonl", bad)), "jsonl",
                             db_path=settings.db_path, secret_key=SECRET, actor="t", now=1,
                             workers=2)
    assert failed.value.errors == ["line 121: description is required (what happened)"]
    # Batches were filed (and indexed for triage) before the bad row came: all taken back,
    # a few reports per transaction, triage's rows too.
    assert rows(settings.db_path, "SELECT count(*) FROM reports") == [(0,)]
    assert rows(settings.db_path, "SELECT count(*) FROM entity_reports") == [(0,)]
    assert rows(settings.db_path, "SELECT count(*), sum(reports) FROM entity_stats "
                "WHERE reports > 0") == [(0, None)]
    assert rows(settings.db_path, "SELECT indexed_to FROM entity_index") == [(0,)]
    assert rows(settings.db_path, "SELECT count(*) FROM report_history") == [(0,)]
    monkeypatch.setattr(imports, "file_batch", file_batch)
    result = importer.import_tips(str(jsonl(tmp_path / "t.jsonl", tips)), "jsonl",
                                  db_path=settings.db_path, secret_key=SECRET, actor="t",
                                  now=1, workers=2)
    assert (result.rows, result.filed, result.skipped) == (120, 120, 0)
    assert rows(settings.db_path, "SELECT receipt, who FROM reports ORDER BY id") == [
        (f"{n:010d}", f"site{n % 13}.com") for n in range(120)]
    assert rows(settings.db_path, "SELECT count(*) FROM report_identifiers") == [(120,)]


def paced_at_2_ms_a_tip(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Batches as (rows, rows filed), on a clock where filing a tip takes 2 ms.

    Transactions aim at 0.04 s (20 tips), the first takes 10, chunks are 5 rows.
    """
    monkeypatch.setattr(importer, "CHUNK_ROWS", 5)
    monkeypatch.setattr(importer, "BATCH_ROWS", 10)
    monkeypatch.setattr(importer, "MIN_BATCH_ROWS", 1)
    monkeypatch.setattr(importer, "BATCH_SECONDS", 0.04)
    clock = [0.0]
    batches: list[tuple[int, int]] = []
    file_batch = imports.file_batch

    def timed(db: Any, filings: Any, **options: Any) -> imports.BatchResult:
        outcome = file_batch(db, filings, **options)
        batches.append((len(filings), outcome.filed))
        clock[0] += 0.002 * outcome.filed
        return outcome

    monkeypatch.setattr(imports, "file_batch", timed)
    monkeypatch.setattr(pace, "_clock", lambda: clock[0])
    return batches


def test_an_import_reaches_triage_whole_in_transactions_paced_by_their_time(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = paced_at_2_ms_a_tip(monkeypatch)
    tips = [{"description": f"第{n}条：充值后提不出来",
             "who": f"site{n % 13}.com 电话 1380013{n:04d}", "reporter": f"+86139{n % 9:08d}"}
            for n in range(100)]
    indexed: list[tuple[int, int]] = []
    result = importer.import_tips(str(jsonl(tmp_path / "t.jsonl", tips)), "jsonl",
                                  db_path=settings.db_path, secret_key=SECRET, actor="t",
                                  now=1, workers=1, indexing=lambda *done: indexed.append(done))
    assert result.filed == 100
    # The first batch is a guess; the next ones take what fits the time, in whole chunks.
    assert [size for size, _ in batches] == [10, 20, 20, 20, 20, 10]
    # Once all is filed, triage's tables take every report in: nothing is left for later.
    assert indexed == [(100, 100)]
    assert rows(settings.db_path, "SELECT indexed_to FROM entity_index") == [(100,)]
    assert rows(settings.db_path, "SELECT kind, value, reporter, report_id FROM entity_reports "
                "ORDER BY 1, 2, 3, 4") == rows(
        settings.db_path, "SELECT kind, value, reporter, r.id FROM report_identifiers AS i "
        "JOIN reports AS r ON r.id = i.report_id ORDER BY 1, 2, 3, 4")
    assert rows(settings.db_path, "SELECT count(*), sum(reports) FROM entity_stats") == [
        (113, 200)]


@pytest.mark.parametrize(("failure", "message"), [
    (sqlite3.OperationalError("database is locked"),
     "Error: t.jsonl: the database failed: database is locked; nothing was imported"),
    (OSError(5, "Input/output error"), "Error: cannot read t.jsonl: Input/output error"),
    (KeyboardInterrupt(), "Aborted!"),
])
def test_a_failure_while_filing_takes_back_what_was_filed_and_says_so_in_one_line(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    failure: BaseException, message: str,
) -> None:
    for setting in ("CHUNK_ROWS", "BATCH_ROWS", "MIN_BATCH_ROWS", "MAX_BATCH_ROWS"):
        monkeypatch.setattr(importer, setting, 10)
    file_batch, batches = imports.file_batch, []

    def failing_at_the_third(db: Any, filings: Any, **options: Any) -> imports.BatchResult:
        batches.append(len(filings))
        if len(batches) == 3:
            raise failure
        return file_batch(db, filings, **options)

    monkeypatch.setattr(imports, "file_batch", failing_at_the_third)
    tips = [{"description": f"第{n}条：充值后提不出来", "who": f"site{n}.com"} for n in range(50)]
    jsonl(tmp_path / "t.jsonl", tips)
    monkeypatch.chdir(tmp_path)
    code, output = invoke(settings, "import", "t.jsonl")
    assert (code, output.splitlines()[-1]) == (1, message)
    assert batches == [10, 10, 10]
    assert rows(settings.db_path, "SELECT count(*) FROM reports") == [(0,)]
    assert rows(settings.db_path, "SELECT detail FROM admin_log")[0][0].count(
        '"filed": 0') == 1
    monkeypatch.undo()
    result = run(["import", str(tmp_path / "t.jsonl")], env(settings), tmp_path)
    assert result.returncode == 0 and "50 filed" in result.stderr, result.stderr


def test_an_import_whose_indexing_stops_is_still_complete(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_: Any, **__: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(entities, "catch_up", interrupted)
    tips = [{"description": "充值后提不出来", "who": f"site{n}.com"} for n in range(30)]
    jsonl(tmp_path / "t.jsonl", tips)
    try:
        code, output = invoke(settings, "import", str(tmp_path / "t.jsonl"))
    except KeyboardInterrupt:
        pytest.fail("a Ctrl-C while indexing for triage made the import fail")
    # Everything is filed and said so; the next triage indexes it.
    assert code == 0, output
    assert "30 filed" in output
    assert ("note: triage's tables were not brought up to date (interrupted); the next "
            "`tipline triage` does it") in output
    assert rows(settings.db_path, "SELECT indexed_to FROM entity_index") == [(0,)]
    monkeypatch.undo()
    assert entities.catch_up(connect(settings.db_path)) == 30


def test_rows_already_filed_teach_the_pace_nothing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tips = [{"description": f"第{n}条：充值后提不出来", "who": f"site{n % 13}.com",
             "receipt": f"{n:010d}"} for n in range(100)]
    importer.import_tips(str(jsonl(tmp_path / "old.jsonl", tips[:55])), "jsonl",
                         db_path=settings.db_path, secret_key=SECRET, actor="t", now=1,
                         workers=1)
    # Skipping a row takes no time on this clock: were skipped rows counted, the 55
    # already filed would grow the batches past the 20 that fit. A batch half skipped
    # is timed by the rows it wrote.
    batches = paced_at_2_ms_a_tip(monkeypatch)
    result = importer.import_tips(str(jsonl(tmp_path / "all.jsonl", tips)), "jsonl",
                                  db_path=settings.db_path, secret_key=SECRET, actor="t",
                                  now=1, workers=1)
    assert (result.filed, result.skipped) == (45, 55)
    assert batches == [(10, 0)] * 5 + [(10, 5), (20, 20), (20, 20)]


# --- a CSV that a spreadsheet, or a hand, got wrong (issue 19, item 10) -------------------


def csv_file(path: Path, text: str) -> Path:
    path.write_bytes(("\ufeff" + text).encode())
    return path


def test_a_quote_left_open_in_a_csv_is_named_by_line_and_nothing_is_imported(
    settings: Settings, tmp_path: Path
) -> None:
    # The quote opened on line 3 swallowed the rest: a bad type and a bad date among it.
    tips = csv_file(tmp_path / "hotline.csv",
                    "description,who,target_type,received_at\r\n"
                    "来电称充值后无法提现,coinvip.cc,1,2024-06-03\r\n"
                    "\"来电称群里推荐USDT理财,huobi-pro.vip,2,2024-06-03\r\n"
                    "有人推荐虚拟币,abc.com,9,2024-06-03\r\n"
                    "来信反映公众号推荐,def.com,3,yesterday\r\n"
                    "来电称被骗,ghi.com,4,2024-06-04\r\n")
    result = run(["import", str(tips)], env(settings), tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"{tips}: line 3: a quote opened on this line is never closed (the field runs to "
        "the end of the file, line 6)",
        f"Error: 1 bad row(s) in {tips}; nothing was imported"]
    assert rows(settings.db_path, "SELECT count(*) FROM reports") == [(0,)]


def test_a_quote_left_open_that_a_later_field_closes_is_named_where_it_opened(
    settings: Settings, tmp_path: Path
) -> None:
    """Regression (review): the error named the line where the quote happened to close."""
    tips = csv_file(tmp_path / "hotline.csv",
                    "description,who,target_type\r\n"
                    "\"他们说三天回本,x,1\r\n"
                    "正常一行,y,1\r\n"
                    "坏类型,z,99\r\n"
                    "\"second\",z,1\r\n")
    result = run(["import", str(tips)], env(settings), tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[0] == (
        f"{tips}: line 2: a quote opened on this line runs on to line 5: a quote left open? "
        '(a quote inside a quoted field is written twice: "")')
    assert rows(settings.db_path, "SELECT count(*) FROM reports") == [(0,)]


def test_a_quoted_field_that_swallows_more_lines_than_a_letter_has_is_named_by_line(
    settings: Settings, tmp_path: Path
) -> None:
    from handlers.tips import MAX_FIELD_LINES

    letter = "\r\n".join(f"第{n}段" for n in range(MAX_FIELD_LINES))  # as many lines as allowed
    swallowed = "\r\n".join(f"来电{n},site{n}.com" for n in range(MAX_FIELD_LINES + 1))
    tips = csv_file(tmp_path / "t.csv",
                    f"description,who\r\n\"{letter}\",letter.com\r\n"
                    f"\"来电称{swallowed}\",x.com\r\n来电称被骗,ok.com\r\n"
                    "\"text\" after the quote,y.com\r\n")
    result = run(["import", str(tips)], env(settings), tmp_path)
    assert result.returncode == 1, result.stderr
    third = 3 + MAX_FIELD_LINES - 1
    assert result.stderr.strip().splitlines() == [
        f"{tips}: line {third}: a quoted field runs over {MAX_FIELD_LINES + 1} lines, to "
        f"line {third + MAX_FIELD_LINES}: a quote left open? (a field holds at most "
        f"{MAX_FIELD_LINES} lines)",
        f"{tips}: line {third + MAX_FIELD_LINES + 2}: text after a closing quote (a quote "
        "inside a quoted field is written twice: \"\")",
        f"Error: 2 bad row(s) in {tips}; nothing was imported"]
    assert rows(settings.db_path, "SELECT count(*) FROM reports") == [(0,)]
    # The letter alone, as long as allowed, imports whole.
    alone = csv_file(tmp_path / "letter.csv", f"description,who\r\n\"{letter}\",letter.com\r\n")
    result = run(["import", str(alone)], env(settings), tmp_path)
    assert result.returncode == 0, result.stderr
    assert rows(settings.db_path, "SELECT description FROM reports") == [(letter,)]


def test_unknown_columns_are_errors_naming_the_line(settings: Settings, tmp_path: Path) -> None:
    misspelt = csv_file(tmp_path / "a.csv",
                        "description,who,recieved_at\r\n被骗,x.com,2024-06-01\r\n")
    result = run(["import", str(misspelt)], env(settings), tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: {misspelt}: line 1: unknown column 'recieved_at' (columns: description, "
        "who, target_type, received_at, reporter, channel; from an export also receipt, "
        "status, assignee, lang, identifiers, evidence_count, updated_at); nothing was "
        "imported")
    # A row with more fields than the header names: an unquoted comma, most likely.
    extra = csv_file(tmp_path / "b.csv", "description,who,\r\n被骗,x.com,\r\n"
                     "有人推荐虚拟币,说稳赚,y.com\r\n被骗,z.com,,,\r\n")
    result = run(["import", str(extra)], env(settings), tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"{extra}: line 3: 3 fields, but the header names 2 (a comma in a field that is not "
        "quoted?)",
        f"Error: 1 bad row(s) in {extra}; nothing was imported"]
    lines = jsonl(tmp_path / "c.jsonl", [{"description": "被骗"},
                                         {"description": "被骗", "notes": "回电"}])
    result = run(["import", str(lines)], env(settings), tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[0] == (
        f"{lines}: line 2: unknown field 'notes' (fields: description, who, target_type, "
        "received_at, reporter, channel; from an export also receipt, status, assignee, "
        "lang, identifiers, evidence_count, updated_at)")
    assert not settings.db_path.exists() or rows(
        settings.db_path, "SELECT count(*) FROM reports") == [(0,)]


def test_every_column_an_export_writes_is_known_to_import() -> None:
    from db.exports import COLUMNS
    from handlers.tips import KNOWN_FIELDS

    assert set(COLUMNS) <= set(KNOWN_FIELDS)


# --- receipts a hotline caller can be given (issue 19, item 12) -------------------------


def receipts_by_line(settings: Settings) -> dict[int, str]:
    """The receipt filed for each description "第N条", by N."""
    return {int(d[1:d.index("条")]): f"{r[:5]}-{r[5:]}" for r, d in rows(
        settings.db_path, "SELECT receipt, description FROM reports")}


def test_an_admin_who_imports_hotline_calls_can_give_each_caller_their_receipt(
    settings: Settings, tmp_path: Path
) -> None:
    tips = csv_file(tmp_path / "calls.csv", "description,who,received_at\r\n"
                    "第2条：来电称充值后无法提现,coinvip.cc,2024-06-03\r\n"
                    "\r\n"
                    "\"第4条：来电称群里推荐\r\nUSDT理财\",huobi-pro.vip,2024-06-03\r\n"
                    "第6条：来信反映公众号推荐,def.com,2024-06-04\r\n")
    result = run(["import", str(tips)], env(settings), tmp_path)
    assert result.returncode == 0, result.stderr
    filed = receipts_by_line(settings)
    assert sorted(filed) == [2, 4, 6]
    assert result.stdout.splitlines() == [
        "line  receipt", f"2     {filed[2]}", f"4     {filed[4]}", f"6     {filed[6]}"]
    assert "3 filed, 0 skipped" in result.stderr and filed[2] not in result.stderr

    # As JSON, for a script that mails them out; a row already filed gets none again.
    more = jsonl(tmp_path / "more.jsonl", [{"description": "第1条：来电称被骗", "who": "x.com",
                                            "received_at": "2024-06-05"},
                                           {"description": "第2条：来电称被骗", "who": "y.com",
                                            "received_at": "2024-06-05"}])
    result = run(["import", "--json", str(more)], env(settings), tmp_path)
    assert result.returncode == 0, result.stderr
    new = {n: r for n, r in receipts_by_line(settings).items() if r not in filed.values()}
    assert json.loads(result.stdout) == [{"line": 1, "receipt": new[1]},
                                         {"line": 2, "receipt": new[2]}]
    result = run(["import", "--json", str(more)], env(settings), tmp_path)
    assert (result.returncode, json.loads(result.stdout)) == (0, [])
    assert "0 filed, 2 skipped" in result.stderr


def test_an_import_that_fails_prints_no_receipts(settings: Settings, tmp_path: Path) -> None:
    tips = jsonl(tmp_path / "t.jsonl", [{"description": "第1条：被骗"}, {"who": "x.com"}])
    result = run(["import", "--json", str(tips)], env(settings), tmp_path)
    assert result.returncode == 1 and result.stdout == ""
